#!/usr/bin/env bash
# The fault suite (make chaos): a district-shaped system of its own under
# .local/chaos/ (its own Postgres on 5442, a three-node NATS cluster on
# 4351-4353, two replicas of every service behind HAProxy on 5205x and 940x),
# roll calls at a steady rate from `lienlac bench chaos`, and faults injected
# and repaired by this script while they run. Figures in target/bench/chaos.json.
#   deploy/local/chaos.sh run                         the whole suite, then down
#   deploy/local/chaos.sh up | down                   the system alone
#   deploy/local/chaos.sh fault <name> inject|heal    one fault (lienlac bench chaos calls it)
# Faults: kill-replica:<service>, kill-replicas:<service>, pause-replica:<service>,
# kill-nats-node, kill-nats-nodes, restart-postgres, pause-nats-node. Arguments after `run` go
# to `lienlac bench chaos` (--rounds 1 for a shorter run, --only kill-nats-node
# for one kind of fault).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL_DIR="$ROOT/deploy/local"

# Everything the system keeps, and every port, its own: a demo or a test run on
# this machine is left alone.
export LIENLAC_LOCAL="$ROOT/.local/chaos"
export LIENLAC_PG_PORT=5442 LIENLAC_NATS_PORT=4342 LIENLAC_CLUSTER_PORT=4351
export LIENLAC_REPLICAS=2 LIENLAC_BUILD=release
export RUST_LOG="${RUST_LOG:-warn}"
ports=(identity:52051:9401 attendance:52052:9402 messaging:52053:9403 reporting:52054:9404 sync:52055:9405)
for entry in "${ports[@]}"; do
  IFS=: read -r service grpc metrics <<<"$entry"
  export "${service^^}_GRPC_PORT=$grpc" "${service^^}_METRICS_PORT=$metrics"
  export "LIENLAC_${service^^}_URL=http://127.0.0.1:$grpc"
done
export IDENTITY_URL="$LIENLAC_IDENTITY_URL" ATTENDANCE_URL="$LIENLAC_ATTENDANCE_URL"
export MESSAGING_URL="$LIENLAC_MESSAGING_URL"
export CITYDB_BIND=127.0.0.1:18189
# Teachers' sessions outlast the run.
export IDENTITY_ACCESS_TOKEN_TTL=4h
# The command line's session is the suite's own.
export XDG_CONFIG_HOME="$LIENLAC_LOCAL/config"

say() { echo "chaos.sh: $*"; }
die() { echo "chaos.sh: error: $*" >&2; exit 1; }

cluster_env() { eval "$("$LOCAL_DIR/cluster.sh" env)"; }

# A live process whose pid is in FILE.
alive_in() {
  local pid
  [[ -s $1 ]] && pid="$(cat "$1")" && kill -0 "$pid" 2>/dev/null &&
    ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null
}

cmd_up() {
  "$LOCAL_DIR/stack.sh" up >/dev/null
  "$LOCAL_DIR/cluster.sh" up >/dev/null
  cluster_env
  "$LOCAL_DIR/services.sh" up
  local entry service metrics
  for entry in "${ports[@]}"; do
    IFS=: read -r service _ metrics <<<"$entry"
    for _ in $(seq 1 240); do
      curl -fs "http://127.0.0.1:$metrics/readyz" >/dev/null 2>&1 && continue 2
      sleep 0.5
    done
    die "$service did not become ready; see $LIENLAC_LOCAL/logs/$service-*.log"
  done
  say "up: two replicas of every service, three NATS nodes, Postgres on $LIENLAC_PG_PORT"
}

cmd_down() {
  "$LOCAL_DIR/services.sh" down >/dev/null || true
  "$LOCAL_DIR/cluster.sh" down >/dev/null || true
  "$LOCAL_DIR/stack.sh" down >/dev/null || true
}

# pick N FROM...: N distinct random items of FROM.
pick() {
  local count="$1"; shift
  printf '%s\n' "$@" | shuf -n "$count"
}

node_pidfile() { echo "$LIENLAC_LOCAL/cluster/node$1/nats.pid"; }

kill_pidfile() {
  alive_in "$1" || die "nothing runs from $1"
  kill -KILL "$(cat "$1")"
}

# The replicas, nodes or server a fault struck, kept for its repair.
STRUCK="$LIENLAC_LOCAL/struck"

cmd_fault() {
  local name="${1:-}" action="${2:-}" target
  case "$name:$action" in
    kill-replica:*:inject)
      target="${name#kill-replica:}-$(pick 1 1 2)"
      kill_pidfile "$LIENLAC_LOCAL/pids/$target.pid"
      echo "kill -9 $target"
      ;;
    kill-replicas:*:inject)
      target="${name#kill-replicas:}"
      kill_pidfile "$LIENLAC_LOCAL/pids/$target-1.pid"
      kill_pidfile "$LIENLAC_LOCAL/pids/$target-2.pid"
      echo "kill -9 $target-1 $target-2"
      ;;
    pause-replica:*:inject)
      target="${name#pause-replica:}-$(pick 1 1 2)"
      alive_in "$LIENLAC_LOCAL/pids/$target.pid" || die "$target is not running"
      kill -STOP "$(cat "$LIENLAC_LOCAL/pids/$target.pid")"
      echo "$target" >"$STRUCK"
      echo "kill -STOP $target"
      ;;
    pause-replica:*:heal)
      kill -CONT "$(cat "$LIENLAC_LOCAL/pids/$(cat "$STRUCK").pid")"
      ;;
    kill-replica:*:heal | kill-replicas:*:heal)
      cluster_env
      "$LOCAL_DIR/services.sh" start >/dev/null
      ;;
    kill-nats-node:inject | kill-nats-nodes:inject)
      local count=1 node killed=()
      [[ $name == kill-nats-nodes ]] && count=2
      for node in $(pick "$count" 1 2 3); do
        kill_pidfile "$(node_pidfile "$node")"
        killed+=("node$node")
      done
      echo "kill -9 ${killed[*]}"
      ;;
    kill-nats-node:heal | kill-nats-nodes:heal)
      "$LOCAL_DIR/cluster.sh" up >/dev/null
      ;;
    restart-postgres:inject)
      "$LOCAL_DIR/stack.sh" stop-postgres >/dev/null
      echo "pg_ctl stop -m fast"
      ;;
    restart-postgres:heal)
      "$LOCAL_DIR/stack.sh" up >/dev/null
      ;;
    pause-nats-node:inject)
      target="$(pick 1 1 2 3)"
      alive_in "$(node_pidfile "$target")" || die "node $target is not running"
      kill -STOP "$(cat "$(node_pidfile "$target")")"
      echo "$target" >"$STRUCK"
      echo "kill -STOP node$target"
      ;;
    pause-nats-node:heal)
      target="$(cat "$STRUCK")"
      kill -CONT "$(cat "$(node_pidfile "$target")")"
      ;;
    *) die "unknown fault '$name' or action '$action' (inject or heal)" ;;
  esac
}

cmd_run() {
  cmd_down
  rm -rf "$LIENLAC_LOCAL"
  trap cmd_down EXIT
  cmd_up
  cluster_env
  local cli="$ROOT/target/release/lienlac" credentials="$LIENLAC_LOCAL/nats/credentials.env"
  LIENLAC_PASSWORD=lienlac-demo "$cli" login admin >/dev/null
  # The suite reads the stream as the operator and the databases as their owner.
  LIENLAC_NATS_URL="$NATS_URL" LIENLAC_NATS_USER=operator \
    LIENLAC_NATS_PASSWORD="$(sed -n 's/^OPERATOR_NATS_PASSWORD=//p' "$credentials")" \
    DATABASE_URL="postgres://postgres@127.0.0.1:$LIENLAC_PG_PORT/lienlac" \
    "$cli" bench chaos --faults-program "$0" --output "$ROOT/target/bench/chaos.json" "$@"
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  up) cmd_up ;;
  down) cmd_down ;;
  fault) shift; cmd_fault "$@" ;;
  *) echo "usage: $0 run [lienlac bench chaos options]|up|down|fault <name> inject|heal" >&2; exit 2 ;;
esac
