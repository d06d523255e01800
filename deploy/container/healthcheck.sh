#!/bin/bash
# The service image's HEALTHCHECK: `/readyz` on the metrics port answers 200 once
# Postgres answers and NATS is connected. The image has no curl; bash's /dev/tcp
# speaks enough HTTP/1.0. The port is the service's default unless
# <SERVICE>_METRICS_PORT moves it (the defaults are kernel::config::ServiceId's).
set -euo pipefail

declare -A default_port=([identity]=9101 [attendance]=9102 [messaging]=9103 [reporting]=9104 [sync]=9105)
service="${LIENLAC_SERVICE:?}"
override="${service^^}_METRICS_PORT"
port="${!override:-${default_port[$service]}}"

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r -t 4 status <&3
[[ $status =~ ^HTTP/1\.[01]\ 200 ]]
