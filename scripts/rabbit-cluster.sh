#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on loopback beside the system broker, for the cluster fault tests and
# for trying quorum queues locally; with USERHUB_CLUSTER_NODES=1, a single node of a test's own
# (the restart tests stop and start it instead of the machine's broker). Uses the installed Debian package; each node has its own node
# name (uh-rmq-N@localhost), AMQP port (${USERHUB_CLUSTER_PORT:-5701} + N - 1), distribution
# port, data directory and a cookie shared by the three (not the system broker's).
#   start          start the nodes and join them (idempotent); prints the AMQP URL list
#   stop           stop the nodes and remove their data
#   status         the cluster's status
#   kill N         kill -9 node N (for fault tests)
#   stop-node N    stop node N gracefully
#   start-node N   start node N again (it rejoins with its data)
#   urls           the AMQP URL list
#   leader QUEUE   the number of the node leading quorum queue QUEUE
#   connections N  the client-provided names of the connections to node N
#   ctl N ARGS...  rabbitmqctl ARGS on node N
set -euo pipefail

base_port="${USERHUB_CLUSTER_PORT:-5701}"
dir="${USERHUB_CLUSTER_DIR:-/tmp/userhub-rabbit-cluster-$base_port}"
# shellcheck disable=SC2207
nodes=($(seq 1 "${USERHUB_CLUSTER_NODES:-3}"))
# The package's own scripts: /usr/sbin's wrappers switch to the rabbitmq user and drop the
# environment that gives each node its own names and directories.
bin="${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}"

mkdir -p "$(dirname "$dir")"
exec 9> "$dir.lock"
flock 9

node_name() { echo "uh-rmq-$1@localhost"; }
amqp_port() { echo $((base_port + $1 - 1)); }

# The environment of node $1: own names, ports and directories; HOME holds the shared cookie.
node_env() {
  local n="$1" node_dir="$dir/node-$1"
  echo "HOME=$dir/home" \
    "RABBITMQ_NODENAME=$(node_name "$n")" \
    "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1" \
    "RABBITMQ_NODE_PORT=$(amqp_port "$n")" \
    "RABBITMQ_DIST_PORT=$((base_port + 20000 + n))" \
    "RABBITMQ_MNESIA_BASE=$node_dir/mnesia" \
    "RABBITMQ_LOG_BASE=$node_dir/log" \
    "RABBITMQ_PID_FILE=$node_dir/pid" \
    "RABBITMQ_CONFIG_FILE=$node_dir/rabbitmq" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$node_dir/advanced.config" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$node_dir/enabled_plugins" \
    "RABBITMQ_CONF_ENV_FILE=$node_dir/rabbitmq-env.conf" \
    "ERL_EPMD_ADDRESS=127.0.0.1"
}

on_node() {
  local n="$1"
  shift
  # No child keeps the lock descriptor: a node or an epmd it starts would hold the lock for its
  # lifetime.
  # shellcheck disable=SC2046
  env $(node_env "$n") "$@" 9>&-
}

ctl() { on_node "$1" "$bin/rabbitmqctl" -n "$(node_name "$1")" "${@:2}"; }

running() { ctl "$1" -q status >/dev/null 2>&1; }

urls() {
  local list=()
  for n in "${nodes[@]}"; do list+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"); done
  (IFS=,; echo "${list[*]}")
}

prepare() {
  mkdir -p "$dir/home"
  if [ ! -f "$dir/home/.erlang.cookie" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/home/.erlang.cookie"
    chmod 400 "$dir/home/.erlang.cookie"
  fi
  for n in "${nodes[@]}"; do
    local node_dir="$dir/node-$n"
    mkdir -p "$node_dir/mnesia" "$node_dir/log"
    printf '[].\n' > "$node_dir/enabled_plugins"
    printf '[].\n' > "$node_dir/advanced.config"
    : > "$node_dir/rabbitmq-env.conf"
    # guest may connect over loopback only, which is where these listen.
    printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users.guest = true\n' "$(amqp_port "$n")" \
      > "$node_dir/rabbitmq.conf"
    printf 'cluster_partition_handling = pause_minority\n' >> "$node_dir/rabbitmq.conf"
  done
}

start_node() {
  local n="$1"
  if running "$n"; then return; fi
  on_node "$n" "$bin/rabbitmq-server" -detached
  for _ in $(seq 1 120); do
    if ctl "$n" -q await_startup >/dev/null 2>&1; then return; fi
    sleep 1
  done
  echo "node $n did not start; see $dir/node-$n/log" >&2
  return 1
}


start() {
  prepare
  for n in "${nodes[@]}"; do start_node "$n"; done
  for n in "${nodes[@]:1}"; do
    local members
    members="$(ctl 1 -q cluster_status 2>/dev/null || true)"
    if [[ "$members" != *"$(node_name "$n")"* ]]; then
      ctl "$n" -q stop_app
      ctl "$n" -q reset
      ctl "$n" -q join_cluster "$(node_name 1)"
      ctl "$n" -q start_app
    fi
  done
  for n in "${nodes[@]}"; do ctl "$n" -q await_startup >/dev/null; done
  urls
}

stop() {
  for n in "${nodes[@]}"; do
    if running "$n"; then ctl "$n" -q stop >/dev/null 2>&1 || true; fi
    kill_node "$n" 2>/dev/null || true
  done
  rm -rf "$dir"
}


kill_node() {
  local pid
  pid="$(cat "$dir/node-$1/pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
}

leader() {
  for n in "${nodes[@]}"; do
    if running "$n"; then
      ctl "$n" -q list_queues --no-table-headers name leader |
        awk -v queue="$1" '$1 == queue { sub(/^uh-rmq-/, "", $2); sub(/@.*/, "", $2); print $2 }'
      return
    fi
  done
  echo "no node is running" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ctl 1 cluster_status ;;
  kill) kill_node "${2:?node number}" ;;
  stop-node) ctl "${2:?node number}" -q stop ;;
  start-node) start_node "${2:?node number}" ;;
  urls) urls ;;
  leader) leader "${2:?queue name}" ;;
  ctl) ctl "${2:?node number}" "${@:3}" ;;
  connections)
    ctl "${2:?node number}" -q list_connections --no-table-headers client_properties |
      grep -o 'userhub:[A-Za-z0-9_.-]*:[0-9]*' || true
    ;;
  *)
    echo "usage: $0 start|stop|status|kill N|stop-node N|start-node N|urls|leader Q|connections N|ctl N ARGS" >&2
    exit 2
    ;;
esac
