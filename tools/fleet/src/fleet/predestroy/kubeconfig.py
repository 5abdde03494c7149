"""Which cluster will the Kubernetes calls reach? Load the kubeconfig and prove it is the named EKS cluster.

The hostile case is a current context that points at another cluster: pre-destroy would then delete that
cluster's load balancers and volumes. So the API server URL in the kubeconfig must be the endpoint EKS reports
for `--cluster` (DescribeCluster), or nothing is done at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeconfigError(Exception):
    """The kubeconfig is missing, unreadable, or has no such context. The message names the flag."""


@dataclass(frozen=True)
class KubeTarget:
    """The API client built from the kubeconfig, with the server URL and context it was built from."""

    api: Any  # kubernetes.client.ApiClient (the package ships no type information)
    server: str
    context: str


def kubeconfig_path(flag: str | None) -> str:
    """--kubeconfig, else $KUBECONFIG (which may list several files), else ~/.kube/config, as kubectl does."""
    return flag or os.environ.get("KUBECONFIG") or os.path.expanduser(DEFAULT_KUBECONFIG)


def load(kubeconfig: str | None, context: str | None) -> KubeTarget:
    path = kubeconfig_path(kubeconfig)
    source = f"--kubeconfig {path}" if kubeconfig else f"kubeconfig {path}"
    files = [p for p in path.split(os.pathsep) if p]
    missing = [p for p in files if not os.path.isfile(os.path.expanduser(p))]
    if not files or len(missing) == len(files):
        raise KubeconfigError(f"{source}: no such file")
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)
        names = [c["name"] for c in contexts or []]
        chosen = context or (active or {}).get("name")
        if context and context not in names:
            raise KubeconfigError(f"--context {context!r} is not in {source} (contexts: {', '.join(names) or 'none'})")
        if not chosen:
            raise KubeconfigError(f"{source} has no current-context: pass --context")
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=path, context=chosen, client_configuration=configuration, persist_config=False
        )
    except ConfigException as exc:
        raise KubeconfigError(f"{source}: {exc}") from exc
    return KubeTarget(api=client.ApiClient(configuration), server=str(configuration.host), context=str(chosen))


def _normal(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def same_server(eks_endpoint: str, kube_server: str) -> bool:
    """True when both URLs name the same API server (case of the host, a default port, a trailing / aside)."""
    return _normal(eks_endpoint) == _normal(kube_server)


def identity_refusal(cluster: str, eks_endpoint: str | None, target: KubeTarget) -> str | None:
    """Why the kubeconfig must not be used for `cluster`, or None when it points at that cluster's endpoint."""
    if not eks_endpoint:
        return (
            f"EKS reports no API endpoint for cluster {cluster} yet, so the kubeconfig (context {target.context},"
            f" server {target.server}) cannot be verified to point at it: nothing was changed"
        )
    if not same_server(eks_endpoint, target.server):
        return (
            f"the kubeconfig context {target.context} points at {target.server}, but EKS cluster {cluster}'s"
            f" endpoint is {eks_endpoint}: acting would delete another cluster's load balancers and volumes."
            f" Nothing was changed; run `aws eks update-kubeconfig --name {cluster}` or pass --context"
        )
    return None
