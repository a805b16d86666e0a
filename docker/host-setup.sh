#!/usr/bin/env bash
# Make this Debian machine able to run docker/build.sh and docker/compose.yaml: Debian's
# docker.io (daemon, client with built-in BuildKit), docker-compose and mmdebstrap, and a
# running dockerd. Needs root; does nothing that is already done.
set -euo pipefail
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /usr/bin/docker ] || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "host-setup: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! /usr/bin/docker info >/dev/null 2>&1; then
  echo "host-setup: starting dockerd (log: /tmp/dockerd.log)" >&2
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 60); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 1; done
  /usr/bin/docker info >/dev/null
fi
