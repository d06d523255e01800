#!/usr/bin/env bash
# Writes a nats-server configuration with accounts for lienlac (works with
# nats-server 2.9 and later):
#   - account SERVICES (JetStream): one user per service, publishing only on its
#     own subjects, creating only its own stream, and reading only the streams it
#     consumes; with --operator, an `operator` user with the whole account (test
#     suites, whose namespaces are made up per test, benchmark resets, and
#     `lienlac events tail`);
#   - one account per district subscriber, importing only that district's public
#     attendance subjects, read only, with no JetStream at all;
#   - no anonymous access; TLS when --tls-cert and --tls-key are given.
# Passwords come from the credentials file (KEY=value lines), which is created
# with random passwords, readable by its owner only, when missing.
#
#   deploy/nats/accounts.sh --credentials FILE --store DIR [--listen HOST:PORT]
#       [--namespace NS]... [--district ID]... [--operator]
#       [--tls-cert FILE --tls-key FILE] > nats.conf
# The configuration holds the passwords: keep it readable by nats-server only.
set -euo pipefail

CREDENTIALS="" STORE="" LISTEN="127.0.0.1:4222" OPERATOR=0 TLS_CERT="" TLS_KEY=""
NAMESPACES=() DISTRICTS=()
while (($#)); do
  case "$1" in
    --credentials) CREDENTIALS="$2"; shift 2 ;;
    --store) STORE="$2"; shift 2 ;;
    --listen) LISTEN="$2"; shift 2 ;;
    --namespace) NAMESPACES+=("$2"); shift 2 ;;
    --district) DISTRICTS+=("$2"); shift 2 ;;
    --operator) OPERATOR=1; shift ;;
    --tls-cert) TLS_CERT="$2"; shift 2 ;;
    --tls-key) TLS_KEY="$2"; shift 2 ;;
    *) echo "accounts.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $CREDENTIALS && -n $STORE ]] || { echo "accounts.sh: --credentials and --store are required" >&2; exit 2; }
((${#NAMESPACES[@]})) || NAMESPACES=("")
for district in "${DISTRICTS[@]}"; do
  [[ $district =~ ^[0-9a-f-]{36}$ ]] || { echo "accounts.sh: $district is not a district id" >&2; exit 2; }
done
for namespace in "${NAMESPACES[@]}"; do
  [[ -z $namespace || $namespace =~ ^[a-z0-9]+$ ]] || { echo "accounts.sh: bad namespace $namespace" >&2; exit 2; }
done

SERVICES=(identity attendance messaging reporting sync)
# Which services' streams each service consumes (every service follows identity's
# revocations).
declare -A READS=(
  [identity]="identity"
  [attendance]="identity"
  [messaging]="identity attendance"
  [reporting]="identity attendance sync"
  [sync]="identity attendance"
)

random() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }

# The credentials file: one password per user, made once.
if [[ ! -s $CREDENTIALS ]]; then
  mkdir -p "$(dirname "$CREDENTIALS")"
  (
    umask 077
    {
      for service in "${SERVICES[@]}"; do echo "${service^^}_NATS_PASSWORD=$(random)"; done
      echo "OPERATOR_NATS_PASSWORD=$(random)"
    } > "$CREDENTIALS"
  )
fi
password() {
  local key="$1" value
  value="$(grep -E "^${key}=" "$CREDENTIALS" | head -n 1 | cut -d= -f2-)"
  if [[ -z $value ]]; then
    value="$(random)"
    (umask 077; echo "${key}=${value}" >> "$CREDENTIALS")
  fi
  printf '%s' "$value"
}

stream_of() { # namespace service
  local stream="LIENLAC_${2^^}"
  [[ -z $1 ]] && printf '%s' "$stream" || printf '%s_%s' "${1^^}" "$stream"
}
prefix_of() { # namespace service: every version of the service's subjects
  [[ -z $1 ]] && printf 'lienlac.%s' "$2" || printf '%s.lienlac.%s' "$1" "$2"
}
# The public contract a district's subscriber receives (docs/events.md): identity's
# and attendance's v2 events, attendance v1 until it retires on 2027-07-01, and
# messaging's v1 events.
public_of() { # namespace district
  printf '%s ' "$(prefix_of "$1" identity).v2.$2.>" "$(prefix_of "$1" attendance).v2.$2.>" \
    "$(prefix_of "$1" attendance).v1.$2.>" "$(prefix_of "$1" messaging).v1.$2.>"
}

permissions() { # service
  local service="$1" namespace stream read
  printf '        publish: { allow: [\n'
  for namespace in "${NAMESPACES[@]}"; do
    stream="$(stream_of "$namespace" "$service")"
    printf '          "%s.>",\n' "$(prefix_of "$namespace" "$service")"
    printf '          "$JS.API.STREAM.CREATE.%s", "$JS.API.STREAM.UPDATE.%s", "$JS.API.STREAM.INFO.%s",\n' "$stream" "$stream" "$stream"
    # Identity purges its retired v1 subjects from its stream at start.
    [[ $service == identity ]] && printf '          "$JS.API.STREAM.PURGE.%s",\n' "$stream"
    for read in ${READS[$service]}; do
      stream="$(stream_of "$namespace" "$read")"
      printf '          "$JS.API.STREAM.INFO.%s", "$JS.API.CONSUMER.CREATE.%s", "$JS.API.CONSUMER.CREATE.%s.>",\n' "$stream" "$stream" "$stream"
      printf '          "$JS.API.CONSUMER.INFO.%s.*", "$JS.API.CONSUMER.DELETE.%s.*", "$JS.API.CONSUMER.MSG.NEXT.%s.*",\n' "$stream" "$stream" "$stream"
      printf '          "$JS.ACK.%s.>", "$JS.ACK.*.*.%s.>",\n' "$stream" "$stream"
    done
  done
  printf '        ] }\n'
  printf '        subscribe: { allow: [ "_INBOX.>" ] }\n'
}

echo "# Written by deploy/nats/accounts.sh; regenerate rather than edit."
echo "listen: $LISTEN"
echo "jetstream { store_dir: \"$STORE\" }"
if [[ -n $TLS_CERT && -n $TLS_KEY ]]; then
  echo "tls { cert_file: \"$TLS_CERT\", key_file: \"$TLS_KEY\", timeout: 2 }"
fi
echo "accounts {"
echo "  SERVICES {"
echo "    jetstream: enabled"
echo "    users: ["
for service in "${SERVICES[@]}"; do
  echo "      { user: $service, password: \"$(password "${service^^}_NATS_PASSWORD")\", permissions: {"
  permissions "$service"
  echo "      } }"
done
if ((OPERATOR)); then
  echo "      { user: operator, password: \"$(password OPERATOR_NATS_PASSWORD)\" }"
fi
echo "    ]"
echo "    exports: ["
for district in "${DISTRICTS[@]}"; do
  for namespace in "${NAMESPACES[@]}"; do
    for subject in $(public_of "$namespace" "$district"); do
      echo "      { stream: \"$subject\", accounts: [D_${district//-/_}] }"
    done
  done
done
echo "    ]"
echo "  }"
for district in "${DISTRICTS[@]}"; do
  account="D_${district//-/_}"
  echo "  $account {"
  echo "    users: [ { user: \"district-$district\", password: \"$(password "DISTRICT_${district//-/_}_NATS_PASSWORD")\", permissions: {"
  echo "      publish: { deny: [ \">\" ] }"
  printf '      subscribe: { allow: [ '
  for namespace in "${NAMESPACES[@]}"; do
    for subject in $(public_of "$namespace" "$district"); do printf '"%s", ' "$subject"; done
  done
  echo '"_INBOX.>" ] }'
  echo "    } } ]"
  echo "    imports: ["
  for namespace in "${NAMESPACES[@]}"; do
    for subject in $(public_of "$namespace" "$district"); do
      echo "      { stream: { account: SERVICES, subject: \"$subject\" } }"
    done
  done
  echo "    ]"
  echo "  }"
done
echo "}"
