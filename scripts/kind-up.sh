#!/usr/bin/env bash
# Create the local kind cluster and run the platform on it through Flux, from this repository's own tree
# (k8s/clusters/local: the controllers and configs that need no AWS, then k8s/applications/local).
#
#   make kind-up                                   # the repo's origin remote and current branch
#   REPO_URL=https://github.com/you/fork BRANCH=my-branch make kind-up
#
# Flux reads Git, not this directory: commit and push what you want the cluster to run. The image is the
# exception: it is built from the work tree and loaded into the nodes, so the app runs your local code.
# Private repositories: create a Git credential Secret in flux-system (`flux create secret git NAME ...`) and
# set GIT_SECRET_REF=NAME.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-load-harness}"
KIND_CONFIG="${KIND_CONFIG:-$ROOT/k8s/kind/kind-config.yaml}"
CLUSTER_VARS="$ROOT/k8s/clusters/local/cluster-vars.yaml"
APP_DIR="$ROOT/k8s/applications/base/load-harness"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-15m}"

log() { printf 'kind-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Name every missing tool at once, with where to get it, instead of failing on the first.
missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    log "missing: $1 ($2)"
    missing=1
  fi
}
need docker "https://docs.docker.com/engine/install/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation (v0.31.0: the release the node image ships with)"
need kubectl "https://kubernetes.io/docs/tasks/tools/ (1.31 or newer: kind-up uses wait --for=create)"
need flux "https://fluxcd.io/flux/installation/#install-the-flux-cli"
need git "your distribution's git package"
[ "$missing" = 0 ] || die "install the tools above, then run make kind-up again"
docker info >/dev/null 2>&1 || die "docker is installed but its engine is not reachable (is the daemon running?)"

[ -f "$CLUSTER_VARS" ] || die "$CLUSTER_VARS not found"
# The registry the manifests name (${IMAGE_REGISTRY}); images are tagged with it and loaded into the nodes, so
# the registry-only admission policy holds locally too and nothing is pulled from it.
REGISTRY="$(sed -n 's/^[[:space:]]*IMAGE_REGISTRY:[[:space:]]*//p' "$CLUSTER_VARS" | tr -d '"' | head -n 1)"
[ -n "$REGISTRY" ] || die "no IMAGE_REGISTRY in $CLUSTER_VARS"
# The tags the manifests name (image automation moves the app's), so the loaded images are the ones pods ask for.
# The tag the manifests deploy: the image automation's setter line in the base's kustomization.yaml `images:`.
APP_TAG="${APP_TAG:-$(sed -n 's|^ *newTag: *\(v[0-9][0-9.]*\).*imagepolicy.*|\1|p' "$APP_DIR/kustomization.yaml" | head -n 1)}"
POSTGRES_IMAGE="${POSTGRES_IMAGE:-$(sed -n 's|.*/mirror/\(postgres:[^[:space:]"]*\).*|\1|p' "$APP_DIR/postgres.yaml" | head -n 1)}"
[ -n "$APP_TAG" ] || die "no newTag: vX.Y.Z (the image setter) in $APP_DIR/kustomization.yaml; set APP_TAG"
[ -n "$POSTGRES_IMAGE" ] || die "no mirror/postgres image in $APP_DIR/postgres.yaml; set POSTGRES_IMAGE"

REPO_URL="${REPO_URL:-$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)}"
BRANCH="${BRANCH:-$(git -C "$ROOT" rev-parse --abbrev-ref HEAD 2>/dev/null || true)}"
[ -n "$REPO_URL" ] || die "no Git remote 'origin': set REPO_URL to a URL Flux can clone"
if [ -z "$BRANCH" ] || [ "$BRANCH" = HEAD ]; then die "detached HEAD: set BRANCH"; fi
case "$REPO_URL" in
  git@*:*) REPO_URL="ssh://${REPO_URL/://}" ;;  # scp-style remote: Flux wants a URL
esac
if ! git -C "$ROOT" diff --quiet HEAD -- k8s 2>/dev/null; then
  log "warning: k8s/ has uncommitted changes; Flux applies $BRANCH as pushed, not your work tree"
fi

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "cluster $CLUSTER exists; reusing it"
else
  log "creating cluster $CLUSTER from $KIND_CONFIG"
  kind create cluster --name "$CLUSTER" --config "$KIND_CONFIG" --wait 5m
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

APP_IMAGE="$REGISTRY/load-harness:$APP_TAG"
log "building $APP_IMAGE"
docker build -f "$ROOT/applications/load-harness/Dockerfile" --build-arg "APP_VERSION=$APP_TAG" \
  -t "$APP_IMAGE" "$ROOT"
MIRROR_IMAGE="$REGISTRY/mirror/$POSTGRES_IMAGE"
docker pull "$POSTGRES_IMAGE"
docker tag "$POSTGRES_IMAGE" "$MIRROR_IMAGE"
kind load docker-image --name "$CLUSTER" "$APP_IMAGE" "$MIRROR_IMAGE"

log "installing Flux ($(flux version --client 2>/dev/null | head -n 1))"
flux check --pre
# The image controllers too: the app's ImageRepository/ImagePolicy must have their CRDs to apply.
flux install --components-extra=image-reflector-controller,image-automation-controller

log "syncing $REPO_URL@$BRANCH path ./k8s/clusters/local"
source_args=(--url="$REPO_URL" --branch="$BRANCH" --interval=1m)
if [ -n "${GIT_SECRET_REF:-}" ]; then source_args+=(--secret-ref="$GIT_SECRET_REF"); fi
flux create source git flux-system "${source_args[@]}"
flux create kustomization flux-system --source=GitRepository/flux-system --path=./k8s/clusters/local \
  --prune=true --interval=10m

# The chain is infra-controllers -> infra-configs -> apps; waiting on each names the step that is stuck.
for ks in infra-controllers infra-configs apps; do
  log "waiting for Kustomization $ks (up to $WAIT_TIMEOUT)"
  kubectl -n flux-system wait "kustomization/$ks" --for=create --timeout="$WAIT_TIMEOUT"
  if ! kubectl -n flux-system wait "kustomization/$ks" --for=condition=Ready --timeout="$WAIT_TIMEOUT"; then
    flux get kustomizations >&2 || true
    die "Kustomization $ks is not ready: flux logs --level=error; flux get helmreleases -A"
  fi
done
log "ready: kubectl --context kind-$CLUSTER -n applications get pods; gateway on http://127.0.0.1:8088"
