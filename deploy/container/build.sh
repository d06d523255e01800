#!/usr/bin/env bash
# Builds lienlac's images from deploy/container/Containerfile.
#   deploy/container/build.sh [IMAGE...]      every image, or only those named
# IMAGE is identity, attendance, messaging, reporting, sync, cli or citydb-sim.
# LIENLAC_IMAGE_REGISTRY (default `lienlac`) and LIENLAC_IMAGE_TAG (default the
# commit, `-dirty` when the tree has changes) name them REGISTRY/IMAGE:TAG;
# CONTAINER_ENGINE picks docker or podman (the first found). BuildKit (Docker 23
# and later) or Podman 4 and later are needed for the cache mounts.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REGISTRY="${LIENLAC_IMAGE_REGISTRY:-lienlac}"
TAG="${LIENLAC_IMAGE_TAG:-}"
if [[ -z $TAG ]]; then
  TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)"
  [[ -z $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] || TAG="$TAG-dirty"
fi
ENGINE="${CONTAINER_ENGINE:-$(command -v docker || command -v podman || true)}"
[[ -n $ENGINE ]] || { echo "build.sh: neither docker nor podman is installed" >&2; exit 1; }

# The gRPC and metrics ports of each service: kernel::config::ServiceId's defaults
# (deploy/check.sh compares them).
declare -A PORTS=(
  [identity]="50051 9101" [attendance]="50052 9102" [messaging]="50053 9103"
  [reporting]="50054 9104" [sync]="50055 9105"
)
IMAGES=(identity attendance messaging reporting sync cli citydb-sim)
(($#)) && IMAGES=("$@")

for image in "${IMAGES[@]}"; do
  args=(build -f "$ROOT/deploy/container/Containerfile" -t "$REGISTRY/$image:$TAG")
  case "$image" in
    cli | citydb-sim) args+=(--target "$image") ;;
    *)
      [[ -n ${PORTS[$image]:-} ]] || { echo "build.sh: no image named $image" >&2; exit 2; }
      read -r grpc metrics <<<"${PORTS[$image]}"
      args+=(--target service --build-arg "SERVICE=$image" --build-arg "GRPC_PORT=$grpc"
        --build-arg "METRICS_PORT=$metrics") ;;
  esac
  echo "build.sh: $REGISTRY/$image:$TAG"
  DOCKER_BUILDKIT=1 "$ENGINE" "${args[@]}" "$ROOT"
done
