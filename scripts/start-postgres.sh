#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the hub's tests, idempotently, as root: installs Debian's postgresql if
# missing, creates a cluster on a private port, a user and a database, and prints the URL to export as
# MAGPIE_TEST_POSTGRES_URL.
#
#   export MAGPIE_TEST_POSTGRES_URL=$(scripts/start-postgres.sh)
set -euo pipefail
PORT="${MAGPIE_PG_PORT:-54329}"
DIR="${MAGPIE_PG_DIR:-/tmp/magpie-postgres}"
USER_NAME=magpie
PASSWORD=magpie-test
DB=magpie_test

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
id postgres >/dev/null 2>&1 || useradd --system --home "$DIR" postgres
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi; }

if [ ! -f "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    chown postgres "$DIR"
    as_pg "$BIN/initdb" -D "$DIR" -A trust -U postgres >&2
fi
if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
fi
PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
as_pg "${PSQL[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$USER_NAME'" | grep -q 1 \
    || as_pg "${PSQL[@]}" -c "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'" >&2
as_pg "${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
    || as_pg "${PSQL[@]}" -c "CREATE DATABASE $DB OWNER $USER_NAME" >&2
echo "postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"
