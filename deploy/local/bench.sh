#!/usr/bin/env bash
# The whole-system benchmark of `make bench`: builds the services and the command
# line optimised, runs them as a system of their own (database lienlac_bench,
# namespace `bench`, ports 5105x and 920x, so a running demo is left alone), and
# drives them with `lienlac bench rollcall`. Figures in target/bench/rollcall.json.
# The city profile first mirrors a made-up city of CITY_SCHOOLS schools (2,200)
# from the city database simulator with the sync service (`lienlac bench
# mirror`, figures in target/bench/sync.json).
#   deploy/local/bench.sh [default|city]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BENCH="$ROOT/.local/bench"
CARGO="${CARGO:-cargo}"
PROFILE="${1:-default}"

case "$PROFILE" in
  # A few minutes on two cores: 8 schools, 264 classes of 35, twenty mornings.
  default) LOAD=(--schools 8 --classes-per-school 33 --students-per-class 35 --concurrency 32 --sessions 20) ;;
  # The whole morning of Ho Chi Minh City, mirrored from the city database
  # simulator: 2,200 schools, 72,600 classes of 35.
  # The teachers sign in before the measured waves; at the production argon2 cost
  # their 72,600 first sign-ins alone would take half an hour of both cores.
  city) CONCURRENCY=64
        export IDENTITY_ARGON2_MEMORY_KIB=1024 IDENTITY_ARGON2_ITERATIONS=1 ;;
  *) echo "usage: $0 [default|city]" >&2; exit 2 ;;
esac

# The services connect as their own roles; the load generator's resets as the
# administrator.
export DATABASE_URL="postgres://postgres@127.0.0.1:${LIENLAC_PG_PORT:-5432}/lienlac_bench"
for service in identity attendance reporting sync; do
  export "${service^^}_DATABASE_URL=postgres://lienlac_${service}@127.0.0.1:${LIENLAC_PG_PORT:-5432}/lienlac_bench"
done
export LIENLAC_NATS_URL="nats://127.0.0.1:${LIENLAC_NATS_PORT:-4322}" NATS_URL="nats://127.0.0.1:${LIENLAC_NATS_PORT:-4322}"
# The services as their own users (the accounts cover the `bench` namespace); the
# load generator's resets and baselines as the operator.
NATS_CREDENTIALS="$ROOT/.local/nats/credentials.env"
for service in identity attendance reporting sync; do
  upper="${service^^}"
  export "${upper}_NATS_USER=${service}"
  export "${upper}_NATS_PASSWORD=$(sed -n "s/^${upper}_NATS_PASSWORD=//p" "$NATS_CREDENTIALS")"
done
export LIENLAC_NATS_USER=operator
LIENLAC_NATS_PASSWORD="$(sed -n 's/^OPERATOR_NATS_PASSWORD=//p' "$NATS_CREDENTIALS")"
export LIENLAC_NATS_PASSWORD
export LIENLAC_NAMESPACE=bench
export LIENLAC_ADMIN_PASSWORD=lienlac-bench
# The load generator signs a district's teachers in from one address.
export IDENTITY_SIGN_IN_ADDRESS_BURST=10000000 IDENTITY_SIGN_IN_USERNAME_BURST=1000
export IDENTITY_SIGNING_KEY_FILE="$BENCH/signing-key.pem" IDENTITY_ACTIVATION_KEY_FILE="$BENCH/activation-key"
export IDENTITY_GRPC_PORT=51051 ATTENDANCE_GRPC_PORT=51052 REPORTING_GRPC_PORT=51054 SYNC_GRPC_PORT=51055
export IDENTITY_METRICS_PORT=9201 ATTENDANCE_METRICS_PORT=9202 REPORTING_METRICS_PORT=9204 SYNC_METRICS_PORT=9205
export IDENTITY_URL="http://127.0.0.1:51051"
# Sessions outlast a long run: the seed and the mornings use the tokens they
# signed in with.
export IDENTITY_ACCESS_TOKEN_TTL=4h
export LIENLAC_IDENTITY_URL="http://127.0.0.1:51051" LIENLAC_ATTENDANCE_URL="http://127.0.0.1:51052"
export LIENLAC_REPORTING_URL="http://127.0.0.1:51054" LIENLAC_SYNC_URL="http://127.0.0.1:51055"
# The city profile's mirror: the sync service reads the simulator as the city
# database, with a secret of its own at identity, and runs units side by side.
CITY_SCHOOLS="${CITY_SCHOOLS:-2200}"
export SYNC_SERVICE_SECRET=bench-sync-secret-of-thirty-two-chars IDENTITY_SERVICE_SECRETS=sync=bench-sync-secret-of-thirty-two-chars
export SYNC_CITYDB_URL="http://127.0.0.1:18089" SYNC_CITYDB_CLIENT_ID=lienlac SYNC_CITYDB_CLIENT_SECRET=bench-citydb-secret
export SYNC_INCREMENTAL_EVERY=0s SYNC_NIGHTLY_AT=off SYNC_RUN_WORKERS="${SYNC_RUN_WORKERS:-4}"
# The command line's session is the bench's own, not the user's.
export XDG_CONFIG_HOME="$BENCH/config"
export RUST_LOG="${RUST_LOG:-warn}"

SERVICES=(identity attendance reporting)
[[ $PROFILE == city ]] && SERVICES+=(sync)
PACKAGES=(-p lienlac-cli)
[[ $PROFILE == city ]] && PACKAGES+=(-p citydb-sim)
for service in "${SERVICES[@]}"; do PACKAGES+=(-p "$service"); done
(cd "$ROOT" && "$CARGO" build --release "${PACKAGES[@]}")
CLI="$ROOT/target/release/lienlac"

mkdir -p "$BENCH/logs"
"$CLI" bench reset
# The reset dropped lienlac_bench; the stack creates it again with the services' rights.
"$ROOT/deploy/local/stack.sh" up >/dev/null
PIDS=()
stop_services() {
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "${PIDS[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "${PIDS[@]}" 2>/dev/null || true
}
trap stop_services EXIT
for service in "${SERVICES[@]}"; do
  "$ROOT/target/release/$service" >"$BENCH/logs/$service.log" 2>&1 &
  PIDS+=($!)
done
# Ready means this run's service answers: one that exited (its port taken by a
# leftover process, say) fails the run instead of being mistaken for it.
for i in "${!SERVICES[@]}"; do
  port_variable="${SERVICES[$i]^^}_METRICS_PORT"
  for _ in $(seq 1 240); do
    kill -0 "${PIDS[$i]}" 2>/dev/null || {
      echo "${SERVICES[$i]} stopped; see $BENCH/logs/${SERVICES[$i]}.log" >&2; exit 1; }
    curl -fs "http://127.0.0.1:${!port_variable}/readyz" >/dev/null 2>&1 && continue 2
    sleep 0.5
  done
  echo "${SERVICES[$i]} did not become ready; see $BENCH/logs/${SERVICES[$i]}.log" >&2
  exit 1
done
LIENLAC_PASSWORD="$LIENLAC_ADMIN_PASSWORD" "$CLI" login admin >/dev/null
if [[ $PROFILE == city ]]; then
  # The simulator makes the city up in memory before it answers.
  "$ROOT/target/release/citydb-sim" serve --city-schools "$CITY_SCHOOLS" --bind 127.0.0.1:18089 \
    --client-id lienlac --client-secret bench-citydb-secret >"$BENCH/logs/citydb-sim.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "citydb-sim stopped; see $BENCH/logs/citydb-sim.log" >&2; exit 1; }
    curl -fs -o /dev/null "http://127.0.0.1:18089/healthz" && break
    sleep 0.5
  done
  # The mirror, then the morning on the mirrored city.
  "$CLI" bench mirror --city-schools "$CITY_SCHOOLS" --concurrency "$CONCURRENCY" \
    --output "$ROOT/target/bench/sync.json" --rollcall-output "$ROOT/target/bench/rollcall.json"
else
  "$CLI" bench rollcall "${LOAD[@]}" --output "$ROOT/target/bench/rollcall.json"
fi
