"""What `fleet new-app` is asked to build, and every rule the request must meet before anything is written.

Messages name the flag and the value, because they reach the user as `error: --image nginx:latest: ...`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from fleet.catalog.annotations import CatalogAnnotations, option_problems

# RFC 1035 label: what Kubernetes demands of a Service name, and so of every name this app uses.
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_RULE = (
    "a DNS-1035 label: at most 63 characters, lowercase letters, digits and '-', starting with a letter and "
    "ending with a letter or digit (Kubernetes requires this of Service names)"
)
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
SHARED_NAMESPACE = "applications"
# Namespaces that belong to Kubernetes or to Flux: an app there shares its fate with the control plane or with
# GitOps itself, and `default` is where things land by accident. Any `kube-` name is reserved by Kubernetes.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "flux-system")

# An image reference: [registry[:port]/]path[:tag][@sha256:digest]. Only the character set is checked here;
# the tag and digest rules below are what matter for pinning.
IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class AppSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    image: str
    annotations: CatalogAnnotations
    namespace: str = SHARED_NAMESPACE
    # True: the app gets a namespace of its own (named like the app) and with it a ResourceQuota and a
    # LimitRange, which are namespace-wide and so only an owner of the whole namespace may write them.
    own_namespace: bool = False
    port: int = 8080
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    min_replicas: int = 1
    max_replicas: int = 3


def image_problem(image: str) -> str | None:
    """Why `image` is not pinned, or None. A moving or missing tag means every node may run something else."""
    if not IMAGE_RE.match(image):
        return f"--image {image!r}: not an image reference ([registry/]path:tag or path@sha256:digest)"
    reference, has_digest, digest = image.partition("@")
    if has_digest and not DIGEST_RE.match(digest):
        return f"--image {image!r}: the digest must be sha256: followed by 64 lowercase hex digits"
    last = reference.rsplit("/", 1)[-1]  # a registry port (localhost:5000/app) is not a tag
    _, has_tag, tag = last.partition(":")
    repository = reference.removesuffix(f":{tag}") if has_tag else reference
    pin = f"pin a version tag ({repository}:1.2.3) or, better, a digest ({repository}@sha256:...)"
    if has_tag and tag.lower() == "latest":
        return f"--image {image!r}: the tag 'latest' moves with every push; {pin}"
    if has_tag and not TAG_RE.match(tag):
        return f"--image {image!r}: invalid tag {tag!r}"
    if not has_tag and not has_digest:
        return f"--image {image!r}: no tag, so the runtime pulls 'latest'; {pin}"
    return None


def image_note(image: str) -> str | None:
    """A pinned-by-tag image is accepted, but a tag can be pushed again; a digest cannot."""
    if "@" in image:
        return None
    return f"{image} is pinned by tag only; a digest (@sha256:...) is immutable and is preferred"


def namespace_problem(namespace: str, flag: str) -> str | None:
    if len(namespace) > 63 or not NAMESPACE_RE.match(namespace):
        return f"{flag} {namespace!r}: must be a DNS-1123 label (a-z, 0-9, '-', at most 63 characters)"
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        instead = (
            "name the app differently"
            if flag == "--own-namespace"
            else f"use the shared {SHARED_NAMESPACE!r} namespace or --own-namespace"
        )
        return (
            f"{flag} {namespace!r}: refused: {', '.join(RESERVED_NAMESPACES)} and every kube-* namespace belong "
            f"to Kubernetes or Flux; {instead}"
        )
    return None


def problems(spec: AppSpec) -> list[str]:
    """Everything wrong with `spec`, each naming the flag, the value and the rule; empty when it can be rendered."""
    out: list[str] = []
    if len(spec.name) > 63 or not NAME_RE.match(spec.name):
        out.append(f"invalid name {spec.name!r}: must be {NAME_RULE}")
    namespace_error = namespace_problem(spec.namespace, "--own-namespace" if spec.own_namespace else "--namespace")
    if namespace_error:
        out.append(namespace_error)
    if not 1024 <= spec.port <= 65535:
        out.append(
            f"--port {spec.port}: use 1024-65535; a non-root container with every capability dropped "
            "cannot bind a privileged port"
        )
    image_error = image_problem(spec.image)
    if image_error:
        out.append(image_error)
    for flag, path in (("--health-path", spec.health_path), ("--metrics-path", spec.metrics_path)):
        if not PATH_RE.match(path):
            out.append(f"{flag} {path!r}: must start with '/' (letters, digits and ._~/- only)")
    if not 1 <= spec.min_replicas <= spec.max_replicas:
        out.append(f"--min-replicas {spec.min_replicas} --max-replicas {spec.max_replicas}: need 1 <= min <= max")
    return out + option_problems(spec.annotations)
