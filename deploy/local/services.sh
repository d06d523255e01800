#!/usr/bin/env bash
# Builds and runs every lienlac service binary of the workspace (services/*/src/main.rs).
#   deploy/local/services.sh run    in the foreground, logs to the console; Ctrl-C stops all
#   deploy/local/services.sh up     detached; pids in .local/pids, logs in .local/logs
#   deploy/local/services.sh down   stops what `up` started
#   deploy/local/services.sh start  `up` without building: restarts what died
# LIENLAC_REPLICAS=2 (make cluster) starts `up`'s services twice each, behind an
# HAProxy that listens on the service's own ports (deploy/local/balancer.sh).
# LIENLAC_LOCAL: where pids, logs and local secrets live (default .local; the
# fault suite keeps its own). LIENLAC_BUILD=release runs optimised binaries.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL="${LIENLAC_LOCAL:-$ROOT/.local}"
PIDS="$LOCAL/pids" LOGS="$LOCAL/logs"
CARGO="${CARGO:-cargo}"
REPLICAS="${LIENLAC_REPLICAS:-1}"
[[ $REPLICAS =~ ^[1-9]$ ]] || { echo "services.sh: LIENLAC_REPLICAS must be 1 to 9, not '$REPLICAS'" >&2; exit 2; }
case "${LIENLAC_BUILD:-debug}" in
  debug) BUILD_FLAGS=() BIN="$ROOT/target/debug" ;;
  release) BUILD_FLAGS=(--release) BIN="$ROOT/target/release" ;;
  *) echo "services.sh: LIENLAC_BUILD is debug or release, not '$LIENLAC_BUILD'" >&2; exit 2 ;;
esac

# Development defaults: the identity service starts without LIENLAC_ADMIN_PASSWORD
# (its operator `admin` gets the password lienlac-demo) and keeps its token
# signing key and activation code secret under .local/. The services listen on
# loopback only: the development password never applies to a wider address.
export LIENLAC_DEV="${LIENLAC_DEV:-1}"
export LIENLAC_BIND_ADDRESS="${LIENLAC_BIND_ADDRESS:-127.0.0.1}"
# The demo seed activates a district's guardians from this one address.
export IDENTITY_SIGN_IN_ADDRESS_BURST="${IDENTITY_SIGN_IN_ADDRESS_BURST:-100000}"
export IDENTITY_SIGNING_KEY_FILE="${IDENTITY_SIGNING_KEY_FILE:-$LOCAL/identity/signing-key.pem}"
export IDENTITY_ACTIVATION_KEY_FILE="${IDENTITY_ACTIVATION_KEY_FILE:-$LOCAL/identity/activation-key}"
export MESSAGING_ATTACHMENTS_DIR="${MESSAGING_ATTACHMENTS_DIR:-$LOCAL/attachments}"
export RUST_LOG="${RUST_LOG:-info}"

# Each service connects to Postgres as its own role and signs in to the
# project-local nats-server as its own user, with the password stack.sh generated
# (deploy/local/stack.sh creates both).
NATS_CREDENTIALS="$LOCAL/nats/credentials.env"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:${LIENLAC_NATS_PORT:-4322}}"
for service in identity attendance messaging reporting sync; do
  upper="${service^^}"
  url_var="${upper}_DATABASE_URL"
  export "$url_var=${!url_var:-postgres://lienlac_${service}@127.0.0.1:${LIENLAC_PG_PORT:-5432}/lienlac}"
done
if [[ -f $NATS_CREDENTIALS ]]; then
  for service in identity attendance messaging reporting sync; do
    upper="${service^^}"
    export "${upper}_NATS_USER=${service}"
    export "${upper}_NATS_PASSWORD=$(sed -n "s/^${upper}_NATS_PASSWORD=//p" "$NATS_CREDENTIALS")"
  done
fi

# Identity knows messaging and sync by a secret each (service tokens for work no
# user asks for, services/identity/src/service_tokens.rs), made once and kept
# under .local/.
SERVICE_SECRETS="$LOCAL/identity/service-secrets.env"
mkdir -p "$(dirname "$SERVICE_SECRETS")"
for service in MESSAGING SYNC; do
  grep -q "^${service}_SERVICE_SECRET=" "$SERVICE_SECRETS" 2>/dev/null ||
    (umask 077 && echo "${service}_SERVICE_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >>"$SERVICE_SECRETS")
done
export MESSAGING_SERVICE_SECRET="${MESSAGING_SERVICE_SECRET:-$(sed -n 's/^MESSAGING_SERVICE_SECRET=//p' "$SERVICE_SECRETS")}"
export SYNC_SERVICE_SECRET="${SYNC_SERVICE_SECRET:-$(sed -n 's/^SYNC_SERVICE_SECRET=//p' "$SERVICE_SECRETS")}"
export IDENTITY_SERVICE_SECRETS="${IDENTITY_SERVICE_SECRETS:-messaging=$MESSAGING_SERVICE_SECRET,sync=$SYNC_SERVICE_SECRET}"

# The sync service mirrors the city education database. Unless SYNC_CITYDB_URL
# names a real one, the city database simulator serves the demo's unit from
# tools/citydb-sim/data/demo, with a client secret made once and kept under .local/.
SIMULATOR=0
if [[ -z ${SYNC_CITYDB_URL:-} ]]; then
  SIMULATOR=1
  grep -q "^CITYDB_CLIENT_SECRET=" "$SERVICE_SECRETS" ||
    (umask 077 && echo "CITYDB_CLIENT_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >>"$SERVICE_SECRETS")
  export CITYDB_BIND="${CITYDB_BIND:-127.0.0.1:8089}"
  export CITYDB_CLIENT_ID=lienlac
  CITYDB_CLIENT_SECRET="$(sed -n 's/^CITYDB_CLIENT_SECRET=//p' "$SERVICE_SECRETS")"
  export CITYDB_CLIENT_SECRET CITYDB_DATA="$ROOT/tools/citydb-sim/data/demo"
  export SYNC_CITYDB_URL="http://$CITYDB_BIND" SYNC_CITYDB_CLIENT_ID=lienlac
  export SYNC_CITYDB_CLIENT_SECRET="$CITYDB_CLIENT_SECRET"
  # Month-end totals reach the simulator within seconds of a close.
  export SYNC_PUSH_EVERY="${SYNC_PUSH_EVERY:-2s}"
fi

services() {
  local main
  for main in "$ROOT"/services/*/src/main.rs; do
    [[ -e $main ]] || continue
    basename "$(dirname "$(dirname "$main")")"
  done
}

build() {
  mapfile -t SERVICES < <(services)
  if ((${#SERVICES[@]} == 0)); then
    echo "no service binaries in services/ yet; the stack is up and the kernel builds:"
    (cd "$ROOT" && "$CARGO" build --workspace)
    return 1
  fi
  local packages=(-p lienlac-cli -p citydb-sim)
  for service in "${SERVICES[@]}"; do packages+=(-p "$service"); done
  (cd "$ROOT" && "$CARGO" build "${BUILD_FLAGS[@]}" "${packages[@]}")
  with_simulator
  return 0
}

# The simulator starts first: the sync service reads it.
with_simulator() {
  if ((SIMULATOR)); then SERVICES=(citydb-sim "${SERVICES[@]}"); fi
}

# PROGRAM: the command line that starts a program of SERVICES (the simulator is
# told to serve).
program() {
  if [[ $1 == citydb-sim ]]; then
    PROGRAM=("$BIN/citydb-sim" serve)
  else
    PROGRAM=("$BIN/$1")
  fi
}

run_foreground() {
  build || return 0
  local children=()
  trap 'echo; echo "stopping…"; kill -TERM "${children[@]}" 2>/dev/null; wait; exit 0' INT TERM
  for service in "${SERVICES[@]}"; do
    # Each line of a service's output is prefixed with its name. The prefixer ignores
    # Ctrl-C so that it prints the service's last lines while it stops.
    program "$service"
    "${PROGRAM[@]}" > >(trap '' INT TERM; exec sed -u "s/^/[$service] /") 2>&1 &
    children+=($!)
    echo "started $service (pid $!)"
  done
  seed_demo || echo "the demo could not be seeded; the services keep running (see their output above)"
  wait
}

# Waits for every service to be ready, then seeds the demo district through the
# public APIs as the operator. The seed is idempotent: on later runs it changes
# nothing and prints the same next steps.
seed_demo() {
  local port
  for port in 9101 9102 9103 9104 9105; do
    for _ in $(seq 1 120); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.5
    done
  done
  echo "seeding the demo district (a minute the first time)…"
  local cli="$BIN/lienlac"
  LIENLAC_PASSWORD="${LIENLAC_ADMIN_PASSWORD:-lienlac-demo}" "$cli" login admin >/dev/null &&
    "$cli" seed demo --accounts-file "$ROOT/demo-accounts.csv" 2> >(sed -u "s/^/[seed] /" >&2) |
    sed "s|lienlac |$cli |"
  echo "For lienlac events tail, NATS admits the operator user only:"
  echo "  export LIENLAC_NATS_URL=$NATS_URL LIENLAC_NATS_USER=operator LIENLAC_NATS_PASSWORD=\$(sed -n 's/^OPERATOR_NATS_PASSWORD=//p' $NATS_CREDENTIALS)"
  echo "Traces: run with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 and a Jaeger or OpenTelemetry"
  echo "Collector listening there; one trace runs from each RPC through NATS into every consumer."
}

# A live process, not an unreaped zombie (`kill -0` succeeds on one where
# nothing reaps the dead, in a container without an init).
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}

# The ports a service answers on (services/kernel/src/config.rs), unless
# <SERVICE>_GRPC_PORT or <SERVICE>_METRICS_PORT say otherwise. Replica r of a
# balanced service listens 100·r above its gRPC port and 10·r above its metrics
# port; the balancer takes the service's own.
declare -A DEFAULT_GRPC_PORT=([identity]=50051 [attendance]=50052 [messaging]=50053 [reporting]=50054 [sync]=50055)
declare -A DEFAULT_METRICS_PORT=([identity]=9101 [attendance]=9102 [messaging]=9103 [reporting]=9104 [sync]=9105)
grpc_port() {
  local variable="${1^^}_GRPC_PORT"
  echo $((${!variable:-${DEFAULT_GRPC_PORT[$1]}} + 100 * ${2:-0}))
}
metrics_port() {
  local variable="${1^^}_METRICS_PORT"
  echo $((${!variable:-${DEFAULT_METRICS_PORT[$1]}} + 10 * ${2:-0}))
}

# start NAME SERVICE [VARIABLE=VALUE...]: one process of SERVICE, known by NAME.
start() {
  local name="$1" service="$2" pidfile="$PIDS/$1.pid"
  shift 2
  if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
    echo "$name: already running (pid $(cat "$pidfile"))"
    return
  fi
  program "$service"
  nohup env "$@" "${PROGRAM[@]}" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$pidfile"
  echo "$name: started (pid $!, log $LOGS/$name.log)"
}

up() {
  build || return 0
  start_all
}

# Starts every program of SERVICES that is not running.
start_all() {
  mkdir -p "$PIDS" "$LOGS"
  local service replica upper connections
  for service in "${SERVICES[@]}"; do
    if [[ $service == citydb-sim ]] || ((REPLICAS == 1)); then
      start "$service" "$service"
      continue
    fi
    upper="${service^^}"
    # Every replica's pool within Postgres's default 100 connections.
    connections="${upper}_DB_MAX_CONNECTIONS"
    for replica in $(seq 1 "$REPLICAS"); do
      start "$service-$replica" "$service" \
        "${upper}_GRPC_PORT=$(grpc_port "$service" "$replica")" \
        "${upper}_METRICS_PORT=$(metrics_port "$service" "$replica")" \
        "${upper}_DB_MAX_CONNECTIONS=${!connections:-6}"
    done
  done
  ((REPLICAS == 1)) || balance
}

# HAProxy in front of each service's replicas, on the service's own ports: a
# client's connection goes to a ready replica (its /readyz asked every second, as
# deploy/compose/haproxy.cfg does; a refused connection is retried on the other),
# and the connections of a replica that dies, pauses or stops being ready are
# closed so that clients reconnect at once.
balance() {
  local bin config="$LOCAL/balancer/haproxy.cfg" pidfile="$PIDS/balancer.pid" service replica
  bin="$(PATH="$PATH:/usr/sbin" command -v haproxy || true)"
  if [[ -z $bin ]]; then
    [[ $(id -u) == 0 ]] || { echo "services.sh: HAProxy is not installed: sudo apt-get install -y haproxy" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null || { echo "services.sh: apt-get install haproxy failed" >&2; exit 1; }
    bin="$(PATH="$PATH:/usr/sbin" command -v haproxy)"
  fi
  if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
    echo "balancer: already running (pid $(cat "$pidfile"))"
    return
  fi
  mkdir -p "$(dirname "$config")"
  {
    echo "global"
    # Two descriptors a connection: within a container's usual limit.
    echo "  maxconn 4000"
    echo "defaults"
    echo "  mode tcp"
    echo "  timeout connect 1s"
    echo "  timeout client 1h"
    echo "  timeout server 1h"
    echo "  timeout check 1s"
    echo "  retries 2"
    echo "  option redispatch"
    echo "  default-server inter 1s fall 1 rise 1 on-marked-down shutdown-sessions"
    for service in "${SERVICES[@]}"; do
      [[ $service == citydb-sim ]] && continue
      echo "listen $service"
      echo "  bind $LIENLAC_BIND_ADDRESS:$(grpc_port "$service")"
      echo "  balance roundrobin"
      echo "  option httpchk"
      echo "  http-check send meth GET uri /readyz"
      for replica in $(seq 1 "$REPLICAS"); do
        echo "  server $service-$replica 127.0.0.1:$(grpc_port "$service" "$replica") check port $(metrics_port "$service" "$replica")"
      done
      echo "listen $service-metrics"
      echo "  bind $LIENLAC_BIND_ADDRESS:$(metrics_port "$service")"
      for replica in $(seq 1 "$REPLICAS"); do
        echo "  server $service-$replica 127.0.0.1:$(metrics_port "$service" "$replica") check"
      done
    done
  } >"$config"
  "$bin" -c -q -f "$config" || { echo "services.sh: the balancer's configuration $config is invalid" >&2; exit 1; }
  setsid nohup "$bin" -db -f "$config" </dev/null >>"$LOGS/balancer.log" 2>&1 &
  echo $! >"$pidfile"
  sleep 0.5
  alive "$(cat "$pidfile")" || { echo "services.sh: the balancer stopped at start; see $LOGS/balancer.log" >&2; exit 1; }
  echo "balancer: started (pid $!, HAProxy in front of $REPLICAS replicas each, log $LOGS/balancer.log)"
}

down() {
  local pidfile stopped=0
  for pidfile in "$PIDS"/*.pid; do
    [[ -e $pidfile ]] || continue
    local service pid
    service="$(basename "$pidfile" .pid)"
    # nats.pid belongs to stack.sh.
    [[ $service == nats ]] && continue
    pid="$(cat "$pidfile")"
    if alive "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
      echo "$service: stopped"
      stopped=1
    fi
    rm -f "$pidfile"
  done
  ((stopped)) || echo "no lienlac service was running from make up"
}

case "${1:-}" in
  run) run_foreground ;;
  up) up ;;
  start) mapfile -t SERVICES < <(services); with_simulator; start_all ;;
  down) down ;;
  *) echo "usage: $0 run|up|down|start" >&2; exit 2 ;;
esac
