#!/usr/bin/env bash
# Builds and runs every lienlac service binary of the workspace (services/*/src/main.rs).
#   deploy/local/services.sh run    in the foreground, logs to the console; Ctrl-C stops all
#   deploy/local/services.sh up     detached; pids in .local/pids, logs in .local/logs
#   deploy/local/services.sh down   stops what `up` started
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PIDS="$ROOT/.local/pids" LOGS="$ROOT/.local/logs"
CARGO="${CARGO:-cargo}"

# Development defaults: the identity service starts without LIENLAC_ADMIN_PASSWORD
# (its operator `admin` gets the password lienlac-demo) and keeps its token
# signing key and activation code secret under .local/. The services listen on
# loopback only: the development password never applies to a wider address.
export LIENLAC_DEV="${LIENLAC_DEV:-1}"
export LIENLAC_BIND_ADDRESS="${LIENLAC_BIND_ADDRESS:-127.0.0.1}"
# The demo seed activates a district's guardians from this one address.
export IDENTITY_SIGN_IN_ADDRESS_BURST="${IDENTITY_SIGN_IN_ADDRESS_BURST:-100000}"
export IDENTITY_SIGNING_KEY_FILE="${IDENTITY_SIGNING_KEY_FILE:-$ROOT/.local/identity/signing-key.pem}"
export IDENTITY_ACTIVATION_KEY_FILE="${IDENTITY_ACTIVATION_KEY_FILE:-$ROOT/.local/identity/activation-key}"
export MESSAGING_ATTACHMENTS_DIR="${MESSAGING_ATTACHMENTS_DIR:-$ROOT/.local/attachments}"
export RUST_LOG="${RUST_LOG:-info}"

# Each service connects to Postgres as its own role and signs in to the
# project-local nats-server as its own user, with the password stack.sh generated
# (deploy/local/stack.sh creates both).
NATS_CREDENTIALS="$ROOT/.local/nats/credentials.env"
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
SERVICE_SECRETS="$ROOT/.local/identity/service-secrets.env"
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
  (cd "$ROOT" && "$CARGO" build "${packages[@]}")
  # The simulator starts first: the sync service reads it.
  ((SIMULATOR)) && SERVICES=(citydb-sim "${SERVICES[@]}")
  return 0
}

# PROGRAM: the command line that starts a program of SERVICES (the simulator is
# told to serve).
program() {
  if [[ $1 == citydb-sim ]]; then
    PROGRAM=("$ROOT/target/debug/citydb-sim" serve)
  else
    PROGRAM=("$ROOT/target/debug/$1")
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
  local cli="$ROOT/target/debug/lienlac"
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

up() {
  build || return 0
  mkdir -p "$PIDS" "$LOGS"
  for service in "${SERVICES[@]}"; do
    local pidfile="$PIDS/$service.pid"
    if [[ -s $pidfile ]] && alive "$(cat "$pidfile")"; then
      echo "$service: already running (pid $(cat "$pidfile"))"
      continue
    fi
    program "$service"
    nohup "${PROGRAM[@]}" >>"$LOGS/$service.log" 2>&1 &
    echo $! >"$pidfile"
    echo "$service: started (pid $!, log .local/logs/$service.log)"
  done
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
  down) down ;;
  *) echo "usage: $0 run|up|down" >&2; exit 2 ;;
esac
