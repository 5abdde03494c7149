"""Render an application's Kubernetes manifests from the templates in fleet/templates/app/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# Order matters only for reading: kustomize applies them as one set.
RESOURCES = (
    "deployment.yaml",
    "service.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "networkpolicy.yaml",
    "servicemonitor.yaml",
    "resourcequota.yaml",
    "limitrange.yaml",
)
# RFC 1035 label: what Kubernetes demands of a Service name, and so of every name this app uses.
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_RULE = (
    "a DNS-1035 label: at most 63 characters, lowercase letters, digits and '-', starting with a letter and "
    "ending with a letter or digit (Kubernetes requires this of Service names)"
)
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")

# Per-pod resources, mirrored in deployment.yaml.j2; the quota is derived from them.
REQUEST_CPU_M, REQUEST_MEM_MI, LIMIT_CPU_M, LIMIT_MEM_MI = 100, 128, 500, 256


@dataclass(frozen=True)
class AppSpec:
    name: str
    namespace: str = "applications"
    port: int = 8080
    image: str | None = None  # default: NAME:0.1.0
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    min_replicas: int = 1
    max_replicas: int = 3

    @property
    def image_ref(self) -> str:
        return self.image or f"{self.name}:0.1.0"


def problems(spec: AppSpec) -> list[str]:
    """Everything wrong with `spec`, each with the rule it breaks; empty when it can be rendered."""
    out: list[str] = []
    if len(spec.name) > 63 or not NAME_RE.match(spec.name):
        out.append(f"invalid name {spec.name!r}: must be {NAME_RULE}")
    if len(spec.namespace) > 63 or not NAMESPACE_RE.match(spec.namespace):
        out.append(f"invalid namespace {spec.namespace!r}: must be a DNS-1123 label (a-z, 0-9, '-', max 63)")
    if not 1024 <= spec.port <= 65535:
        out.append(
            f"invalid port {spec.port}: use 1024-65535; a non-root container with every capability dropped "
            "cannot bind a privileged port"
        )
    if not IMAGE_RE.match(spec.image_ref):
        out.append(f"invalid image {spec.image_ref!r}")
    for label, path in (("health path", spec.health_path), ("metrics path", spec.metrics_path)):
        if not PATH_RE.match(path):
            out.append(f"invalid {label} {path!r}: must start with '/'")
    if not 1 <= spec.min_replicas <= spec.max_replicas:
        out.append(f"replicas: need 1 <= min ({spec.min_replicas}) <= max ({spec.max_replicas})")
    return out


def _cpu(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _mem(mebibytes: int) -> str:
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


def quota(spec: AppSpec) -> dict[str, str]:
    pods = spec.max_replicas + 1  # maxReplicas plus the rollout's surge pod
    return {
        "requests_cpu": _cpu(pods * REQUEST_CPU_M),
        "requests_memory": _mem(pods * REQUEST_MEM_MI),
        "limits_cpu": _cpu(pods * LIMIT_CPU_M),
        "limits_memory": _mem(pods * LIMIT_MEM_MI),
        "pods": str(pods),
    }


def render(spec: AppSpec) -> dict[str, str]:
    """File name -> content for every manifest plus kustomization.yaml. Raises ValueError on a bad spec."""
    errors = problems(spec)
    if errors:
        raise ValueError("; ".join(errors))
    env = Environment(
        loader=PackageLoader("fleet", "templates/app"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=(), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    context = {
        "name": spec.name,
        "namespace": spec.namespace,
        "port": spec.port,
        "image": spec.image_ref,
        "health_path": spec.health_path,
        "metrics_path": spec.metrics_path,
        "min_replicas": spec.min_replicas,
        "max_replicas": spec.max_replicas,
        "quota": quota(spec),
        "resources": RESOURCES,
    }
    files = {f: env.get_template(f"{f}.j2").render(context) for f in RESOURCES}
    files["kustomization.yaml"] = env.get_template("kustomization.yaml.j2").render(context)
    return files


def scaffold(spec: AppSpec, root: Path) -> Path:
    """Write the app to ROOT/NAME/. Raises FileExistsError rather than overwrite, ValueError on a bad spec."""
    files = render(spec)
    target = root / spec.name
    if target.exists():
        raise FileExistsError(f"{target} already exists; refusing to overwrite an existing app")
    target.mkdir(parents=True)
    for name, content in files.items():
        (target / name).write_text(content, encoding="utf-8")
    return target
