"""Render an application's Kubernetes manifests from the templates in fleet/templates/app/."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from fleet.newapp.spec import AppSpec, problems

# Every app gets these. Order matters only for reading: kustomize applies them as one set.
APP_RESOURCES = (
    "deployment.yaml",
    "service.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "networkpolicy.yaml",
    "servicemonitor.yaml",
)
# Namespace-wide objects: a ResourceQuota caps the sum of every app in the namespace and a LimitRange defaults
# every container in it, so an app writes them only into a namespace it owns (--own-namespace). In the shared
# namespace they belong to the namespace's owner, sized for all its apps together.
OWN_NAMESPACE_RESOURCES = ("namespace.yaml", "resourcequota.yaml", "limitrange.yaml")

# Per-pod resources, mirrored in deployment.yaml.j2; the quota is derived from them.
REQUEST_CPU_M, REQUEST_MEM_MI, LIMIT_CPU_M, LIMIT_MEM_MI = 100, 128, 500, 256


def resources(spec: AppSpec) -> tuple[str, ...]:
    """The manifest files this app gets, in kustomization order."""
    return (*OWN_NAMESPACE_RESOURCES, *APP_RESOURCES) if spec.own_namespace else APP_RESOURCES


def _cpu(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _mem(mebibytes: int) -> str:
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


def quota_pods(spec: AppSpec) -> int:
    """maxReplicas plus the rollout's surge pod: derived, so the HPA can never scale past the app's own quota."""
    return spec.max_replicas + 1


def quota(spec: AppSpec) -> dict[str, str]:
    pods = quota_pods(spec)
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
    files = resources(spec)
    context = {
        "name": spec.name,
        "namespace": spec.namespace,
        "port": spec.port,
        "image": spec.image,
        "health_path": spec.health_path,
        "metrics_path": spec.metrics_path,
        "min_replicas": spec.min_replicas,
        "max_replicas": spec.max_replicas,
        "quota": quota(spec),
        "catalog_annotations": spec.annotations.as_annotations(),
        "resources": files,
    }
    out = {f: env.get_template(f"{f}.j2").render(context) for f in files}
    out["kustomization.yaml"] = env.get_template("kustomization.yaml.j2").render(context)
    return out


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
