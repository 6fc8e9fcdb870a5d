#!/usr/bin/env bash
# A PostgreSQL server of a test's own beside the system one, for tests that stop and start the
# database (never the machine's shared server). Uses the installed binaries; its own port
# ${USERHUB_POSTGRES_PORT:-5440} and data directory; trust authentication on loopback.
#   start          initialise (once) and start it; prints its URL (no database name)
#   stop-server    stop it, keeping its data
#   start-server   start it again with its data
#   stop           stop it and remove its data
set -euo pipefail

port="${USERHUB_POSTGRES_PORT:-5440}"
dir="${USERHUB_POSTGRES_DIR:-/tmp/userhub-postgres-$port}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
# The server refuses to run as root: as root, run it as the postgres user.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

running() { as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

start_server() {
  if running; then return; fi
  # fsync off: the data is a test's, and the server is only ever stopped cleanly.
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
}

start() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
  fi
  start_server
  echo "postgres://postgres@127.0.0.1:$port"
}

stop_server() {
  if running; then as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
}

stop() {
  stop_server 2>/dev/null || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop-server) stop_server ;;
  start-server) start_server ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop-server|start-server|stop" >&2; exit 2 ;;
esac
