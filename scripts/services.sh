#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ are running on this machine for userhub: starts them when
# they are installed but stopped, installs them with apt-get on Debian/Ubuntu when missing (as
# root), and otherwise says exactly what to do. Safe to run again and again.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
AMQP_PORT=5672

say() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$seconds"); do
    if "$@"; then return 0; fi
    sleep 1
  done
  say "$name did not become ready within ${seconds}s"
  return 1
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  say "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

postgres_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h "$PG_HOST" -p "$PG_PORT" -q
  else
    port_open "$PG_PORT"
  fi
}

postgres_cluster_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

trust_local_connections() {
  # A fresh Debian cluster asks for passwords on 127.0.0.1; userhub's local default URL has none.
  local version hba
  version=$(postgres_cluster_version)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  [ -f "$hba" ] || return 0
  if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    say "allowing passwordless connections from 127.0.0.1 in $hba (local development only)"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
}

ensure_postgres() {
  if postgres_ready; then say "PostgreSQL is running"; return; fi
  local installed_now=no
  if [ -z "$(postgres_cluster_version)" ]; then
    if can_install; then
      apt_install postgresql postgresql-client
      installed_now=yes
    else
      say "PostgreSQL is not installed. Install it (Debian/Ubuntu: sudo apt-get install postgresql),"
      say "or point USERHUB__DATABASE__URL at a running server, then run this again."
      exit 1
    fi
  fi
  [ "$installed_now" = yes ] && trust_local_connections
  local version
  version=$(postgres_cluster_version)
  say "starting PostgreSQL $version"
  if [ "$(id -u)" = 0 ] || [ "$(id -un)" = postgres ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  else
    say "PostgreSQL is stopped and starting it needs root: sudo pg_ctlcluster $version main start"
    exit 1
  fi
  wait_for PostgreSQL 30 postgres_ready
  say "PostgreSQL is running"
}

# Quorum queues keep files open per queue: RabbitMQ wants tens of thousands of descriptors, and
# the Debian wrapper (su) starts it with the login default of 1024.
WANTED_FDS=20000

port_closed() { ! port_open "$1"; }

rabbitmq_fd_limit() {
  rabbitmq-diagnostics -q status 2>/dev/null | grep -A3 'File Descriptors' |
    grep -o 'limit: [0-9]*' | head -1 | grep -o '[0-9]*'
}

start_rabbitmq_as_root() {
  local fds
  fds=$(ulimit -Hn)
  if [ "$fds" != unlimited ] && [ "$fds" -lt "$WANTED_FDS" ]; then WANTED_FDS=$fds; fi
  (cd /var/lib/rabbitmq && ulimit -n "$WANTED_FDS" &&
    setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq \
      /usr/lib/rabbitmq/bin/rabbitmq-server -detached) >/dev/null 2>&1 ||
    rabbitmq-server -detached >/dev/null 2>&1 || true
}

ensure_rabbitmq() {
  if port_open "$AMQP_PORT"; then
    local limit
    limit=$(rabbitmq_fd_limit || true)
    local possible
    possible=$(ulimit -Hn)
    [ "$possible" = unlimited ] && possible=$WANTED_FDS
    [ "$possible" -gt "$WANTED_FDS" ] && possible=$WANTED_FDS
    # Restart only when it would really get more (never in a loop under a low hard limit).
    if [ -n "$limit" ] && [ "$limit" -lt 4000 ] && [ "$possible" -gt $((limit + 1000)) ] &&
      [ "$(id -u)" = 0 ]; then
      say "RabbitMQ may open only $limit files (quorum queues need more): restarting it"
      rabbitmqctl -q stop >/dev/null 2>&1 || true
      wait_for "RabbitMQ to stop" 60 port_closed "$AMQP_PORT"
      start_rabbitmq_as_root
      wait_for RabbitMQ 90 port_open "$AMQP_PORT"
    fi
    say "RabbitMQ is running"
    return
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if can_install; then
      apt_install rabbitmq-server
    else
      say "RabbitMQ is not installed. Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server),"
      say "or point USERHUB__BROKER__URL at a running broker, then run this again."
      exit 1
    fi
  fi
  if port_open "$AMQP_PORT"; then say "RabbitMQ is running"; return; fi
  say "starting RabbitMQ"
  if [ "$(id -u)" = 0 ]; then
    start_rabbitmq_as_root
  elif [ "$(id -un)" = rabbitmq ]; then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    rabbitmq-server -detached >/dev/null 2>&1 || true
  else
    say "RabbitMQ is stopped and starting it needs root: sudo rabbitmq-server -detached"
    exit 1
  fi
  wait_for RabbitMQ 90 port_open "$AMQP_PORT"
  say "RabbitMQ is running"
}

ensure_postgres
ensure_rabbitmq
