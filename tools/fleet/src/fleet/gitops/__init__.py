"""GitOps helpers for the k8s/ tree: `fleet gitops generate` writes the manifests that come from other files."""

from fleet.gitops.cli import app

__all__ = ["app"]
