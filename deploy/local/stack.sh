#!/usr/bin/env bash
# Development stack for lienlac: Postgres + nats-server (JetStream).
#   deploy/local/stack.sh up|down|status
#   deploy/local/stack.sh stop-postgres   stops a project-local Postgres only (the
#                                         fault suite's restart; `up` starts it again)
# Reuses a Postgres already listening on its port; otherwise starts a
# project-local one under .local/. nats-server is always the project's own, with
# the accounts of deploy/nats/accounts.sh (no anonymous access; passwords in
# .local/nats/credentials.env), on a port of its own: a machine's open
# nats-server is never the one lienlac uses. `down` only stops what `up` started.
# Ports: LIENLAC_PG_PORT (default 5432), LIENLAC_NATS_PORT (default 4322).
# LIENLAC_LOCAL: where a project-local Postgres and the nats-server keep their
# data, pids and logs (default .local; the fault suite keeps its own).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL="${LIENLAC_LOCAL:-$ROOT/.local}"
PG_PORT="${LIENLAC_PG_PORT:-5432}"
# A project-local Postgres's connection limit: two replicas of every service
# hold more than Postgres's default 100.
PG_MAX_CONNECTIONS="${LIENLAC_PG_MAX_CONNECTIONS:-300}"
NATS_PORT="${LIENLAC_NATS_PORT:-4322}"
PG_DATA="$LOCAL/postgres" PG_SOCK="$LOCAL/pgsocket" NATS_DATA="$LOCAL/nats"
LOGS="$LOCAL/logs" PIDS="$LOCAL/pids"
PG_LOG="$LOGS/postgres.log" NATS_LOG="$LOGS/nats.log"
PG_MARK="$PIDS/postgres.started" NATS_PIDFILE="$PIDS/nats.pid"
NATS_CONFIG="$LOCAL/nats/nats.conf" NATS_CREDENTIALS="$LOCAL/nats/credentials.env"
DB_NAME=lienlac DB_USER=postgres PSQL=psql
DATABASES=(lienlac lienlac_test lienlac_bench)
SERVICES=(identity attendance messaging reporting sync)
INSTALL_HINT="sudo apt-get install -y postgresql nats-server"
APT_UPDATED=0

for port in "$PG_PORT" "$NATS_PORT"; do
  [[ $port =~ ^[0-9]{1,5}$ ]] && (( 10#$port > 0 && 10#$port < 65536 )) || {
    echo "stack.sh: error: invalid port '$port' (LIENLAC_PG_PORT / LIENLAC_NATS_PORT)" >&2; exit 2; }
done

say() { printf '%s\n' "$*"; }
warn() { printf 'stack.sh: warning: %s\n' "$*" >&2; }
die() { printf 'stack.sh: error: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
rel() { printf '%s' "${1#"$ROOT"/}"; }

# TCP probe without extra tools; `timeout` guards against filtered ports.
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# Explicit user/db so probes do not log "role root does not exist".
pg_ready() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2
  else
    tcp_open "$PG_PORT"
  fi
}

# The first line a NATS server sends is `INFO {json}`; it advertises JetStream.
nats_info() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 2 l <&3 && printf "%s" "$l"' \
    _ "$NATS_PORT" 2>/dev/null || true
}

# Install a Debian package as root, or tell a normal user what to install.
install_pkg() {
  is_root || die "$1 is not installed; install the stack with: $INSTALL_HINT"
  say "installing $1 (apt-get)..."
  if (( APT_UPDATED == 0 )); then apt-get update -q || die "apt-get update failed"; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" || die "apt-get install $1 failed"
}

# Bin dir matching an existing cluster's major version, else the highest one.
pg_bindir() {
  if [[ -s $PG_DATA/PG_VERSION && -x /usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin/pg_ctl ]]; then
    printf '%s' "/usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin"; return 0
  fi
  local initdb
  initdb="$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
  [[ -x $initdb ]] && dirname "$initdb"
}

# Postgres refuses to run as root: run its tools as the `postgres` user then.
# The cd avoids warnings when the caller's cwd is unreadable for that user.
as_pg() {
  if is_root; then (cd "$LOCAL" && runuser -u postgres -- "$@"); else "$@"; fi
}

local_pg_running() {
  [[ -s $PG_DATA/PG_VERSION ]] && as_pg "$(pg_bindir)/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

nats_pid_alive() {
  local pid
  [[ -s $NATS_PIDFILE ]] && pid="$(cat "$NATS_PIDFILE")" && kill -0 "$pid" 2>/dev/null &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == nats-server* ]] &&
    ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null
}

# Ours and serving the requested port (the pid file may be from another run).
nats_is_ours() {
  nats_pid_alive && [[ $(tr '\0' ' ' <"/proc/$(cat "$NATS_PIDFILE")/cmdline") == *" -p $NATS_PORT "* ]]
}

# The accounts configuration, written anew on every start: the production and
# `bench` namespaces' service users, and the `operator` user that test suites,
# benchmark resets and `lienlac events tail` connect as.
write_nats_config() {
  mkdir -p -m 700 "$LOCAL/nats"
  (umask 077; "$ROOT/deploy/nats/accounts.sh" --credentials "$NATS_CREDENTIALS" --store "$NATS_DATA" \
    --listen "127.0.0.1:$NATS_PORT" --namespace "" --namespace bench --operator >"$NATS_CONFIG") ||
    die "writing the NATS accounts failed"
}

# wait_for NAME LOG CMD...: poll CMD for ~30 s.
wait_for() {
  local name="$1" logf="$2" i; shift 2
  for ((i = 0; i < 60; i++)); do "$@" && return 0; sleep 0.5; done
  die "$name did not accept connections within 30 s; see $logf"
}

start_pg() {
  local bin
  if ! bin="$(pg_bindir)"; then
    install_pkg postgresql
    # The Debian package may auto-start its own cluster on 5432: re-probe.
    if pg_ready; then say "postgres: reusing 127.0.0.1:$PG_PORT (cluster of the new package)"; return 0; fi
    bin="$(pg_bindir)" || die "no Postgres binaries under /usr/lib/postgresql/*/bin"
  fi
  local_pg_running && die "project-local Postgres is running, but not on port $PG_PORT; run 'stack.sh down' first"
  tcp_open "$PG_PORT" && die "127.0.0.1:$PG_PORT is in use but does not accept Postgres connections"
  mkdir -p -m 755 "$LOCAL" "$LOGS" "$PIDS"
  mkdir -p -m 700 "$PG_DATA" "$PG_SOCK"
  touch "$PG_LOG"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "system user 'postgres' is missing (needed to run Postgres as root)"
    chown postgres: "$PG_DATA" "$PG_SOCK" "$PG_LOG"
    as_pg test -x "$PG_DATA" || die "user postgres cannot reach $PG_DATA; make its parent directories traversable (chmod o+x)"
  fi
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    as_pg "$bin/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale >>"$PG_LOG" 2>&1 ||
      die "initdb failed; see $PG_LOG"
  fi
  # Port, address and socket dir are passed at start so the data dir stays relocatable.
  as_pg "$bin/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 30 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k '$PG_SOCK' -c max_connections=$PG_MAX_CONNECTIONS" >/dev/null ||
    die "Postgres failed to start; see $PG_LOG"
  wait_for postgres "$PG_LOG" pg_ready
  printf '%s\n' "$PG_PORT" >"$PG_MARK"
  say "postgres: started project-local cluster on 127.0.0.1:$PG_PORT (data $(rel "$PG_DATA"))"
}

# psql as the administrator (DB_USER) on DATABASE, quiet, stopping at the first error.
admin_sql() {
  local database="$1"; shift
  PGCONNECT_TIMEOUT=5 "$PSQL" -w -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$DB_USER" -d "$database" "$@"
}

# Find an administrator: on a reused server try `postgres`, then the current user.
find_admin() {
  local u users=(postgres)
  PSQL="$(command -v psql || true)"
  if [[ -z $PSQL ]]; then
    PSQL="$(pg_bindir || true)/psql"
    [[ -x $PSQL ]] || { install_pkg postgresql-client; PSQL="$(command -v psql)"; }
  fi
  [[ -f $PG_MARK ]] || [[ $(id -un) == postgres ]] || users+=("$(id -un)")
  for u in "${users[@]}"; do
    DB_USER="$u"
    admin_sql postgres -c "select 1" >/dev/null 2>&1 && return 0
  done
  die "cannot connect to 127.0.0.1:$PG_PORT as ${users[*]} (password-free) to prepare the databases"
}

# The databases of the demo, the tests and the benchmark, and one role per service
# that may connect to them and create schemas, which it then owns alone: a
# service cannot read or change another's tables (docs/security.md). Schemas
# left by an earlier version, owned by the administrator, are handed to their
# service's role.
ensure_databases_and_roles() {
  local database service role
  find_admin
  for service in "${SERVICES[@]}"; do
    role="lienlac_$service"
    [[ $(admin_sql postgres -c "select 1 from pg_roles where rolname = '$role'") == 1 ]] ||
      admin_sql postgres -c "CREATE ROLE $role LOGIN" >/dev/null ||
      die "user $DB_USER could not create role $role on 127.0.0.1:$PG_PORT"
  done
  for database in "${DATABASES[@]}"; do
    if [[ $(admin_sql postgres -c "select 1 from pg_database where datname = '$database'") != 1 ]]; then
      admin_sql postgres -c "CREATE DATABASE $database" >/dev/null ||
        die "user $DB_USER could not create database $database on 127.0.0.1:$PG_PORT"
      say "postgres: created database $database"
    fi
    for service in "${SERVICES[@]}"; do
      role="lienlac_$service"
      admin_sql "$database" >/dev/null <<SQL || die "granting $role its rights on $database failed"
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE $database TO $role;
DO \$\$
DECLARE
  schema_name name;
  relation record;
BEGIN
  FOR schema_name IN
    SELECT nspname FROM pg_namespace n
    WHERE pg_get_userbyid(n.nspowner) <> '$role'
      AND (nspname IN ('$service', 'bench_$service')
           OR starts_with(nspname, '${service}_') OR starts_with(nspname, 'bench_${service}_'))
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO $role', schema_name);
    FOR relation IN
      SELECT c.relname FROM pg_class c
      WHERE c.relnamespace = schema_name::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LOOP
      EXECUTE format('ALTER TABLE %I.%I OWNER TO $role', schema_name, relation.relname);
    END LOOP;
    RAISE NOTICE 'schema % now owned by $role', schema_name;
  END LOOP;
END
\$\$;
SQL
    done
  done
}

# Fail fast if the freshly started nats-server already exited.
nats_listening() {
  kill -0 "$1" 2>/dev/null || { rm -f "$NATS_PIDFILE"; die "nats-server exited during startup; see $NATS_LOG"; }
  tcp_open "$NATS_PORT"
}

start_nats() {
  local bin pid
  # /usr/sbin is often not on a normal user's PATH.
  bin="$(PATH="$PATH:/usr/sbin" command -v nats-server || true)"
  if [[ -z $bin ]]; then install_pkg nats-server; bin="$(PATH="$PATH:/usr/sbin" command -v nats-server)"; fi
  nats_pid_alive && die "project-local nats-server is running, but not on port $NATS_PORT; run 'stack.sh down' first"
  mkdir -p -m 755 "$LOCAL" "$LOGS" "$PIDS" "$NATS_DATA"
  write_nats_config
  # setsid+nohup detach it from this shell; both exec, so $! is nats-server's pid.
  setsid nohup "$bin" -c "$NATS_CONFIG" -p "$NATS_PORT" </dev/null >>"$NATS_LOG" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$NATS_PIDFILE"
  wait_for nats-server "$NATS_LOG" nats_listening "$pid"
  say "nats: started nats-server with JetStream and accounts on 127.0.0.1:$NATS_PORT (store $(rel "$NATS_DATA"), pid $pid)"
}

cmd_up() {
  if pg_ready; then
    say "postgres: reusing 127.0.0.1:$PG_PORT$([[ -f $PG_MARK && $(cat "$PG_MARK") == "$PG_PORT" ]] && echo ' (project-local cluster)')"
  else
    start_pg
  fi
  ensure_databases_and_roles
  if nats_is_ours; then
    say "nats: reusing the project-local nats-server on 127.0.0.1:$NATS_PORT"
  elif tcp_open "$NATS_PORT"; then
    die "127.0.0.1:$NATS_PORT is taken by another server; set LIENLAC_NATS_PORT to a free port"
  else
    start_nats
  fi
  say "postgres: database $DB_NAME; each service connects as its own role (<SERVICE>_DATABASE_URL=postgres://lienlac_<service>@127.0.0.1:$PG_PORT/$DB_NAME)"
  say "NATS_URL=nats://127.0.0.1:$NATS_PORT (users and passwords in $(rel "$NATS_CREDENTIALS"))"
}

cmd_stop_postgres() {
  [[ -f $PG_MARK ]] && local_pg_running || die "no project-local Postgres is running"
  as_pg "$(pg_bindir)/pg_ctl" stop -D "$PG_DATA" -m fast >/dev/null || die "pg_ctl stop failed; see $PG_LOG"
  say "postgres: stopped project-local cluster"
}

cmd_down() {
  local stopped=0 pid i
  if [[ -f $PG_MARK ]]; then
    if local_pg_running; then
      as_pg "$(pg_bindir)/pg_ctl" stop -D "$PG_DATA" -m fast >/dev/null || die "pg_ctl stop failed; see $PG_LOG"
      say "postgres: stopped project-local cluster (data kept in $(rel "$PG_DATA"))"
    else
      say "postgres: project-local cluster was not running"
    fi
    rm -f "$PG_MARK"; stopped=1
  fi
  if [[ -f $NATS_PIDFILE ]]; then
    if nats_pid_alive; then
      pid="$(cat "$NATS_PIDFILE")"
      kill "$pid" 2>/dev/null || true
      # nats_pid_alive (not kill -0) so an unreaped zombie counts as exited.
      for ((i = 0; i < 100; i++)); do nats_pid_alive || break; sleep 0.1; done
      nats_pid_alive && die "nats-server (pid $pid) did not exit within 10 s"
      say "nats: stopped project-local nats-server (pid $pid, data kept in $(rel "$NATS_DATA"))"
    else
      say "nats: project-local nats-server was not running"
    fi
    rm -f "$NATS_PIDFILE"; stopped=1
  fi
  (( stopped )) || say "nothing to stop: stack.sh did not start any server"
}

cmd_status() {
  say "postgres: $(pg_ready || echo 'not ')reachable on 127.0.0.1:$PG_PORT"
  [[ ! -f $PG_MARK ]] || say "postgres: stack.sh started the project-local cluster on port $(cat "$PG_MARK")" \
    "($(local_pg_running || echo 'not ')running)"
  if tcp_open "$NATS_PORT"; then
    say "nats: reachable on 127.0.0.1:$NATS_PORT (jetstream: $([[ $(nats_info) == *'"jetstream":true'* ]] && echo yes || echo no))"
  else
    say "nats: not reachable on 127.0.0.1:$NATS_PORT"
  fi
  [[ ! -f $NATS_PIDFILE ]] || say "nats: stack.sh started nats-server pid $(cat "$NATS_PIDFILE")" \
    "($(nats_pid_alive || echo 'not ')running)"
  [[ -f $PG_MARK || -f $NATS_PIDFILE ]] || say "stack.sh started nothing"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-postgres) cmd_stop_postgres ;;
  *) say "usage: $0 up|down|status|stop-postgres" >&2; exit 2 ;;
esac
