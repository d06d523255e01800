#!/bin/bash
# Run once by the postgres image on an empty data directory
# (/docker-entrypoint-initdb.d): the roles of deploy/local/stack.sh, with passwords.
# Each service connects as lienlac_<service>, which may connect to the database and
# create schemas there, and then owns those alone: no service reads, changes or
# drops another's tables (docs/security.md). Passwords come from the secrets
# /run/secrets/postgres-<service>-password (deploy/secrets.sh).
set -euo pipefail

for service in identity attendance messaging reporting sync; do
  psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="lienlac_$service" -v database="$POSTGRES_DB" \
    -v password="$(cat "/run/secrets/postgres-$service-password")" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"database" TO :"role";
SQL
  echo "postgres-init: role lienlac_$service"
done
