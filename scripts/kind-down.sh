#!/usr/bin/env bash
# Delete the local kind cluster made by scripts/kind-up.sh (and with it everything Flux ran on it).
# Images stay in Docker's cache; `docker image rm` them if you want the space back.
set -euo pipefail

CLUSTER="${KIND_CLUSTER:-load-harness}"

log() { printf 'kind-down: %s\n' "$*" >&2; }

for tool in docker kind; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "error: $tool not found; nothing to delete without it (https://kind.sigs.k8s.io/docs/user/quick-start/)"
    exit 1
  fi
done
docker info >/dev/null 2>&1 || { log "error: docker's engine is not reachable (is the daemon running?)"; exit 1; }

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  log "no kind cluster named $CLUSTER; nothing to do"
fi
