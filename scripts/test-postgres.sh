#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite and print its SQLAlchemy URL.
# Usage: scripts/test-postgres.sh start|stop   (data in $PG_TEST_DIR, default /tmp/polyforge-test-pg)
set -euo pipefail
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_TEST_DIR=${PG_TEST_DIR:-/tmp/polyforge-test-pg}
PG_TEST_PORT=${PG_TEST_PORT:-54329}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
  echo "PostgreSQL server binaries not found (install the postgresql package); PostgreSQL tests will skip" >&2
  exit 0
fi
# initdb and the server refuse to run as root: run them as the postgres user when we are root.
as_owner() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case "${1:-start}" in
  start)
    if [ ! -f "$PG_TEST_DIR/PG_VERSION" ]; then
      mkdir -p "$PG_TEST_DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$PG_TEST_DIR"
      as_owner "'$PG_BIN/initdb' -D '$PG_TEST_DIR' -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    if ! as_owner "'$PG_BIN/pg_ctl' -D '$PG_TEST_DIR' status" >/dev/null 2>&1; then
      as_owner "'$PG_BIN/pg_ctl' -D '$PG_TEST_DIR' -l '$PG_TEST_DIR/server.log' -w \
        -o \"-p $PG_TEST_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off\" start" >/dev/null
    fi
    echo "postgresql+psycopg://postgres@127.0.0.1:$PG_TEST_PORT/postgres"
    ;;
  stop)
    as_owner "'$PG_BIN/pg_ctl' -D '$PG_TEST_DIR' -m fast stop" >/dev/null 2>&1 || true
    ;;
esac
