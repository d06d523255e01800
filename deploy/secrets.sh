#!/usr/bin/env bash
# Makes the secrets of a lienlac deployment, once, into a directory readable by its
# owner only; running it again keeps every secret and rewrites only what is derived
# from them (docs/deployment.md).
#   deploy/secrets.sh [--out DIR] [--database-host HOST[:PORT]] [--database NAME]
#       [--database-params QUERY] [--district ID]... [--operator] [--nats-tls]
#       [--citydb-sim] [--kubernetes]
#
# DIR (default .local/compose/secrets, where deploy/compose/compose.yaml looks)
# then holds:
#   <service>.env          each service's own variables: <SERVICE>_DATABASE_URL,
#                          <SERVICE>_NATS_PASSWORD, and identity's admin password and
#                          service secrets, messaging's and sync's own secret
#   identity-signing-key.pem, identity-activation-key   identity's key files
#   nats-accounts.conf     the accounts of deploy/nats/accounts.sh, with a password
#                          per service (nats-credentials.env keeps them)
#   postgres-password, postgres-<service>-password      the administrator's and each
#                          role's password, for deploy/compose/postgres-init.sh
#   citydb-sim.env         the simulator's client secret (--citydb-sim points sync at it)
#   secrets.yaml           with --kubernetes: all of the above that a cluster needs,
#                          as the Secrets deploy/kubernetes/base expects
# --database-host is where the services reach Postgres (default `postgres`: the
# Compose service, or the ExternalName Service of deploy/kubernetes/base);
# --database-params is appended to each URL (`sslmode=verify-full&sslrootcert=…`).
# --nats-tls makes nats-server serve TLS with /etc/nats/tls/tls.crt and tls.key.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.local/compose/secrets"
DB_HOST="postgres" DB_NAME="lienlac" DB_PARAMS="" KUBERNETES=0 CITYDB_SIM=0
ACCOUNTS_ARGS=()
SERVICES=(identity attendance messaging reporting sync)

die() { echo "secrets.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --database-host) DB_HOST="$2"; shift 2 ;;
    --database) DB_NAME="$2"; shift 2 ;;
    --database-params) DB_PARAMS="$2"; shift 2 ;;
    --district) ACCOUNTS_ARGS+=(--district "$2"); shift 2 ;;
    --operator) ACCOUNTS_ARGS+=(--operator); shift ;;
    --nats-tls) ACCOUNTS_ARGS+=(--tls-cert /etc/nats/tls/tls.crt --tls-key /etc/nats/tls/tls.key); shift ;;
    --citydb-sim) CITYDB_SIM=1; shift ;;
    --kubernetes) KUBERNETES=1; shift ;;
    *) die "unknown argument $1 (see the comment at the top of this script)" ;;
  esac
done
[[ $DB_HOST =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "--database-host is HOST or HOST:PORT, not '$DB_HOST'"
[[ $DB_HOST == *:* ]] || DB_HOST="$DB_HOST:5432"
[[ $DB_NAME =~ ^[a-z_][a-z0-9_]*$ ]] || die "--database is a plain database name, not '$DB_NAME'"
command -v openssl >/dev/null || die "openssl is needed for identity's signing key (apt-get install openssl)"

umask 077
mkdir -p "$OUT"
chmod 700 "$OUT"

# Hex only: every secret is safe in a URL, an env file and a NATS configuration.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# keep NAME COMMAND...: writes NAME with COMMAND's output unless it exists.
keep() {
  local name="$1"; shift
  [[ ! -s $OUT/$name ]] || return 0
  if ! "$@" >"$OUT/$name.tmp" || [[ ! -s $OUT/$name.tmp ]]; then
    rm -f "$OUT/$name.tmp"
    die "could not write $OUT/$name"
  fi
  mv "$OUT/$name.tmp" "$OUT/$name"
}
secret() { random_hex 24; }
value() { cat "$OUT/$1"; }

keep identity-signing-key.pem openssl genpkey -algorithm ed25519
keep identity-activation-key random_hex 32
# Random hex passes the password policy (no common word, date or repetition).
keep admin-password secret
keep postgres-password secret
keep messaging-service-secret secret
keep sync-service-secret secret
keep citydb-client-secret secret
for service in "${SERVICES[@]}"; do keep "postgres-$service-password" secret; done

# The NATS configuration: each service's user and the streams it may touch. The
# store and listen lines are the nodes' own (deploy/compose/nats.conf and
# deploy/kubernetes/base/nats.conf set them again after including this file).
"$ROOT/deploy/nats/accounts.sh" --credentials "$OUT/nats-credentials.env" --store /data/jetstream \
  --listen 0.0.0.0:4222 "${ACCOUNTS_ARGS[@]}" >"$OUT/nats-accounts.conf.tmp"
mv "$OUT/nats-accounts.conf.tmp" "$OUT/nats-accounts.conf"
nats_password() { sed -n "s/^${1}_NATS_PASSWORD=//p" "$OUT/nats-credentials.env"; }

params=""
[[ -z $DB_PARAMS ]] || params="?$DB_PARAMS"
for service in "${SERVICES[@]}"; do
  upper="${service^^}"
  {
    echo "${upper}_DATABASE_URL=postgres://lienlac_$service:$(value "postgres-$service-password")@$DB_HOST/$DB_NAME$params"
    echo "${upper}_NATS_PASSWORD=$(nats_password "$upper")"
    case "$service" in
      identity)
        echo "LIENLAC_ADMIN_PASSWORD=$(value admin-password)"
        echo "IDENTITY_SERVICE_SECRETS=messaging=$(value messaging-service-secret),sync=$(value sync-service-secret)" ;;
      messaging) echo "MESSAGING_SERVICE_SECRET=$(value messaging-service-secret)" ;;
      sync)
        echo "SYNC_SERVICE_SECRET=$(value sync-service-secret)"
        if ((CITYDB_SIM)); then
          echo "SYNC_CITYDB_URL=http://citydb-sim:8089"
          echo "SYNC_CITYDB_CLIENT_ID=lienlac"
          echo "SYNC_CITYDB_CLIENT_SECRET=$(value citydb-client-secret)"
        fi ;;
    esac
  } >"$OUT/$service.env"
done
printf 'CITYDB_CLIENT_ID=lienlac\nCITYDB_CLIENT_SECRET=%s\n' "$(value citydb-client-secret)" >"$OUT/citydb-sim.env"

# secret NAME KEY=FILE...: one Secret, each key a file's bytes.
k8s_secret() {
  local name="$1" pair; shift
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/part-of: lienlac\ntype: Opaque\ndata:\n' "$name"
  for pair in "$@"; do
    printf '  %s: %s\n' "${pair%%=*}" "$(base64 -w0 <"${pair#*=}")"
  done
}
# The variables of an env file as keys of one Secret (envFrom takes them whole).
k8s_env_secret() {
  local name="$1" file="$2" line
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/part-of: lienlac\ntype: Opaque\ndata:\n' "$name"
  while IFS= read -r line; do
    printf '  %s: %s\n' "${line%%=*}" "$(printf '%s' "${line#*=}" | base64 -w0)"
  done <"$file"
}
# Compose bind-mounts these files into containers whose users are not the host's
# and cannot change a secret's owner or mode: they are readable by all, inside a
# directory only its owner may enter.
for service in "${SERVICES[@]}"; do chmod 0644 "$OUT/$service.env" "$OUT/postgres-$service-password"; done
chmod 0644 "$OUT/citydb-sim.env" "$OUT/identity-signing-key.pem" "$OUT/identity-activation-key" \
  "$OUT/nats-accounts.conf" "$OUT/postgres-password"

if ((KUBERNETES)); then
  {
    for service in "${SERVICES[@]}"; do k8s_env_secret "lienlac-$service" "$OUT/$service.env"; done
    k8s_secret lienlac-identity-keys "signing-key.pem=$OUT/identity-signing-key.pem" \
      "activation-key=$OUT/identity-activation-key"
    k8s_secret nats-accounts "accounts.conf=$OUT/nats-accounts.conf"
  } >"$OUT/secrets.yaml"
fi

echo "secrets.sh: the secrets are in ${OUT#"$ROOT"/}$( ((KUBERNETES)) && echo "; kubectl apply -n NAMESPACE -f ${OUT#"$ROOT"/}/secrets.yaml")"
