#!/usr/bin/env bash
# Build every image of docker/compose.yaml on this machine (docs/deploy.md, "Building").
#
#   docker/build.sh            # base (once), then app, postgres, redis, s3, nginx
#   COLLAB_TAG=v42 docker/build.sh
#
# No image registry is needed: the base is a Debian bookworm root file system made with
# mmdebstrap and imported. Downloads inside the build (Debian packages, PyPI, the npm
# registry) use host networking and this machine's CA bundle, handed to the build as the
# BuildKit secret "ca": it is mounted into the downloading steps only, never into a layer.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-collab-base:bookworm}
COLLAB_TAG=${COLLAB_TAG:-latest}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# BuildKit (for --secret) needs either a client with buildx or Debian's docker.io client, whose
# BuildKit is built in; a newer client without buildx refuses to build with it.
if [ -z "${DOCKER:-}" ]; then
  DOCKER=docker
  if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; fi
fi
export DOCKER_BUILDKIT=1

log() { printf '%s build.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if ! $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null || { log "mmdebstrap is missing (apt-get install mmdebstrap)"; exit 1; }
  log "making the base image $BASE_IMAGE with mmdebstrap (about 2 minutes)"
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,ca-certificates,fonts-dejavu-core \
    bookworm - | $DOCKER import - "$BASE_IMAGE"
fi

build() {  # build TAG DOCKERFILE [TARGET]
  local tag=$1 file=$2 target=${3:-}
  log "building $tag"
  local started=$SECONDS
  $DOCKER build --network host --secret "id=ca,src=$CA_BUNDLE" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" ${target:+--target "$target"} \
    --label org.opencontainers.image.title=workshop-collab \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    -f "$file" -t "$tag" .
  log "built $tag in $((SECONDS - started)) s"
}

build "collab:$COLLAB_TAG" docker/Dockerfile
for service in postgres redis s3 nginx; do
  build "collab-$service:$COLLAB_TAG" docker/services.Dockerfile "$service"
done
# Each build carries its commit as a label, so the image it replaced is left untagged: drop
# those (untagged images of this project only; their layers stay shared with the new ones).
$DOCKER image prune --force --filter label=org.opencontainers.image.title=workshop-collab >/dev/null
