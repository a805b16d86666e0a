#!/bin/sh
# First start: initialise $PGDATA with the POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB of
# docker/.env (password authentication over the network), then run the server.
set -eu
: "${POSTGRES_USER:?set POSTGRES_USER in docker/.env}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in docker/.env}"
: "${POSTGRES_DB:?set POSTGRES_DB in docker/.env}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA"
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  [ "$POSTGRES_DB" = postgres ] || createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql
