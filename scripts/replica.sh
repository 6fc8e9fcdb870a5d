#!/usr/bin/env bash
# A local streaming read replica of the PostgreSQL server on 127.0.0.1, port
# ${USERHUB_REPLICA_PRIMARY_PORT:-5432} (the read-replica tests use a primary of their own, from
# scripts/postgres-instance.sh): `start` allows replication connections from loopback if the
# primary does not yet, takes a base backup with `pg_basebackup -R` and runs it on port
# ${USERHUB_REPLICA_PORT:-5433}; `stop` stops it and removes its data. Idempotent; prints the
# replica's URL prefix.
set -euo pipefail

port="${USERHUB_REPLICA_PORT:-5433}"
primary_port="${USERHUB_REPLICA_PRIMARY_PORT:-5432}"
dir="${USERHUB_REPLICA_DIR:-/tmp/userhub-replica-$port}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  if as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    # Running and still streaming from the primary: reuse it; otherwise (it fell behind the WAL
    # the primary keeps) make it again.
    receiving="$(psql -U postgres -h 127.0.0.1 -p "$port" -Atc \
      "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)"
    if [ "$receiving" = "streaming" ]; then
      echo "postgres://postgres@127.0.0.1:$port"
      return
    fi
    stop
  fi
  hba="$(psql -U postgres -h 127.0.0.1 -p "$primary_port" -Atc 'SHOW hba_file')"
  if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$hba"; then
    echo "host replication all 127.0.0.1/32 trust" >> "$hba"
    psql -U postgres -h 127.0.0.1 -p "$primary_port" -Atc 'SELECT pg_reload_conf()' >/dev/null
  fi
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  as_postgres "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream \
    --checkpoint=fast >/dev/null
  # Debian keeps the server's configuration outside its data directory: give the copy its own.
  as_postgres sh -c "printf '' > '$dir/postgresql.conf' &&
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > '$dir/pg_hba.conf' &&
    printf '' > '$dir/pg_ident.conf'"
  as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/replica.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c hot_standby=on -c max_connections=200" \
    start >/dev/null
  echo "postgres://postgres@127.0.0.1:$port"
}

stop() {
  if [ -d "$dir" ]; then
    as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
