#!/usr/bin/env bash
# A three-node NATS cluster with JetStream on this machine, for running lienlac
# as a district would: streams at three replicas survive one node's loss.
#   deploy/local/cluster.sh up      start the nodes (client ports 4331-4333)
#   deploy/local/cluster.sh down    stop them (data kept under .local/cluster/)
#   deploy/local/cluster.sh status  which nodes run, and the cluster's routes
#   deploy/local/cluster.sh env     the variables that point services at it
# Each node has the accounts of deploy/nats/accounts.sh (the same users and
# passwords as stack.sh's server, from .local/nats/credentials.env); Postgres is
# stack.sh's. Ports: LIENLAC_CLUSTER_PORT (first client port, default 4331; the
# routes listen 2000 above). LIENLAC_LOCAL: where the nodes keep data and logs
# (default .local). The nodes run the nats-server of deploy/local/nats-server.sh
# (2.15, installed once; LIENLAC_NATS_SERVER names another).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL="${LIENLAC_LOCAL:-$ROOT/.local}"
CLUSTER="$LOCAL/cluster" LOGS="$LOCAL/logs"
CREDENTIALS="$LOCAL/nats/credentials.env"
FIRST_PORT="${LIENLAC_CLUSTER_PORT:-4331}"
NODES=(1 2 3)

say() { echo "cluster.sh: $*"; }
die() { echo "cluster.sh: error: $*" >&2; exit 1; }

[[ $FIRST_PORT =~ ^[0-9]+$ ]] && ((FIRST_PORT > 0 && FIRST_PORT + 2002 < 65536)) ||
  die "LIENLAC_CLUSTER_PORT must be a port number, not '$FIRST_PORT'"

client_port() { echo $((FIRST_PORT + $1 - 1)); }
route_port() { echo $((FIRST_PORT + 2000 + $1 - 1)); }
# Beside the node's data: .local/pids holds what services.sh stops.
pidfile() { echo "$CLUSTER/node$1/nats.pid"; }

# A live nats-server of ours, not an unreaped zombie.
alive() {
  local pid
  [[ -s $(pidfile "$1") ]] && pid="$(cat "$(pidfile "$1")")" && kill -0 "$pid" 2>/dev/null &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == nats-server* ]] &&
    ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The node's configuration: the accounts, then its name and the cluster's routes;
# every write synced to disk, as in production, where the server can (2.10 on).
write_config() {
  local node="$1" bin="$2" other routes=() version
  for other in "${NODES[@]}"; do
    ((other == node)) || routes+=("\"nats-route://127.0.0.1:$(route_port "$other")\"")
  done
  mkdir -p -m 700 "$CLUSTER/node$node"
  (
    umask 077
    "$ROOT/deploy/nats/accounts.sh" --credentials "$CREDENTIALS" --store "$CLUSTER/node$node/store" \
      --listen "127.0.0.1:$(client_port "$node")" --namespace "" --namespace bench --operator
    version="$("$bin" --version | grep -o '[0-9][0-9.]*' | head -n 1)"
    if [[ $(printf '%s\n' "$version" 2.10 | sort -V | head -n 1) == 2.10 ]]; then
      echo "jetstream { store_dir: \"$CLUSTER/node$node/store\", sync_interval: always }"
    fi
    echo "server_name: lienlac-node$node"
    echo "cluster {"
    echo "  name: lienlac"
    echo "  listen: 127.0.0.1:$(route_port "$node")"
    echo "  routes: [$(IFS=,; echo "${routes[*]}")]"
    echo "}"
  ) >"$CLUSTER/node$node/nats.conf" || die "writing node $node's configuration failed"
}

start_node() {
  local node="$1" bin pid
  bin="$("$ROOT/deploy/local/nats-server.sh")" || die "no nats-server to run"
  if alive "$node"; then
    say "node $node: already running (pid $(cat "$(pidfile "$node")"))"
    return
  fi
  write_config "$node" "$bin"
  setsid nohup "$bin" -c "$CLUSTER/node$node/nats.conf" </dev/null >>"$LOGS/nats-node$node.log" 2>&1 &
  pid=$!
  echo "$pid" >"$(pidfile "$node")"
  say "node $node: started (pid $pid, client 127.0.0.1:$(client_port "$node"), log $LOGS/nats-node$node.log)"
}

urls() {
  local node list=()
  for node in "${NODES[@]}"; do list+=("nats://127.0.0.1:$(client_port "$node")"); done
  (IFS=,; echo "${list[*]}")
}

cmd_up() {
  [[ -s $CREDENTIALS ]] || die "no NATS credentials yet: run deploy/local/stack.sh up first"
  mkdir -p "$LOGS"
  local node
  for node in "${NODES[@]}"; do start_node "$node"; done
  for node in "${NODES[@]}"; do
    for _ in $(seq 1 60); do tcp_open "$(client_port "$node")" && break; sleep 0.5; done
    tcp_open "$(client_port "$node")" || die "node $node did not listen within 30 s; see $LOGS/nats-node$node.log"
  done
  say "three nodes clustered; point the services at them with:"
  cmd_env
}

cmd_env() {
  echo "export NATS_URL=$(urls) LIENLAC_STREAM_REPLICAS=3"
}

cmd_down() {
  local node pid stopped=0
  for node in "${NODES[@]}"; do
    alive "$node" || { rm -f "$(pidfile "$node")"; continue; }
    pid="$(cat "$(pidfile "$node")")"
    kill "$pid"
    for _ in $(seq 1 100); do alive "$node" || break; sleep 0.1; done
    alive "$node" && die "node $node (pid $pid) did not exit within 10 s"
    rm -f "$(pidfile "$node")"
    say "node $node: stopped (data kept in $CLUSTER/node$node)"
    stopped=1
  done
  ((stopped)) || say "no node was running"
}

cmd_status() {
  local node
  for node in "${NODES[@]}"; do
    if alive "$node"; then
      say "node $node: running (pid $(cat "$(pidfile "$node")"), client 127.0.0.1:$(client_port "$node"))"
    else
      say "node $node: not running"
    fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
