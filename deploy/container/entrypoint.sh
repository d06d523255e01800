#!/bin/bash
# The images' entrypoint: exports the KEY=value lines of a secrets file, then runs
# the program (the image's service when none is named).
#
# The services read their passwords and database URLs from environment variables
# only, while Compose hands secrets over as files: each service gets one file,
# mounted at $LIENLAC_SECRETS_ENV (default /run/secrets/lienlac.env), holding its
# own variables (IDENTITY_DATABASE_URL=…, IDENTITY_NATS_PASSWORD=…). A variable
# already set in the environment wins over the file. Values are taken literally:
# no quotes, no expansion. Kubernetes passes Secrets as variables and has no file.
set -euo pipefail

file="${LIENLAC_SECRETS_ENV:-/run/secrets/lienlac.env}"
if [[ -f $file ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    key="${line%%=*}"
    [[ $line == *=* && $key =~ ^[A-Z_][A-Z0-9_]*$ ]] ||
      { echo "lienlac-entrypoint: $file: a line is not KEY=value" >&2; exit 2; }
    [[ -n ${!key+set} ]] || export "$key=${line#*=}"
  done <"$file"
fi

(($#)) || set -- "/usr/local/bin/${LIENLAC_SERVICE:?the image names no service}"
exec "$@"
