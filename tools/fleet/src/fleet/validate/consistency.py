"""The `consistency` check: facts that must agree across objects, each a weakness of the original platform.

- Canary ports: a Flagger Canary's spec.service.port/targetPort against its target Deployment's container ports
  and the Service of the same name (the original's Service and Canary disagreed, and nothing noticed).
- Chart versions: every HelmRelease names an exact chart version (no range, no "*", none missing); a chartRef
  to an OCIRepository needs an exact ref.tag or a digest.
- Image tags, statically over every YAML file under k8s/ (so HelmRelease values and CRs that no admission policy
  sees are covered too): no `:latest`, no untagged image; a digest is always fine. The policy fixtures under
  .../policies/tests/ are skipped (their denied cases are broken on purpose).
- Resources: every container of a rendered workload sets cpu and memory requests and limits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fleet.k8s_yaml import iter_yaml_files, load_documents
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.policies import ClusterView, cluster_views
from fleet.validate.render import render_all
from fleet.validate.shapes import as_dict, as_list

# SemVer 2.0 with Helm's optional leading "v"; anything else (~1.2, ^1, 1.x, >=1, *) is a range.
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
RESOURCES = ("cpu", "memory")
POLICY_FIXTURES = "policies/tests"


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind, spec = doc.get("kind"), as_dict(doc.get("spec"))
    if kind not in WORKLOAD_KINDS:
        return None
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    return as_dict(as_dict(spec.get("template")).get("spec"))


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [as_dict(c) for key in CONTAINER_LISTS for c in as_list(spec.get(key))]


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    meta = as_dict(doc.get("metadata"))
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def canary_findings(view: ClusterView) -> tuple[list[str], int]:
    by_kind: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for _, doc in view.objects:
        by_kind.setdefault(str(doc.get("kind")), {})[_key(doc)] = doc
    errors: list[str] = []
    canaries = [(w, d) for w, d in view.objects if d.get("kind") == "Canary"]
    for where, canary in canaries:
        ns = _key(canary)[0]
        spec = as_dict(canary.get("spec"))
        service = as_dict(spec.get("service"))
        target = str(as_dict(spec.get("targetRef")).get("name"))
        port, target_port = service.get("port"), service.get("targetPort", service.get("port"))
        deployment = by_kind.get("Deployment", {}).get((ns, target))
        if deployment is None:
            errors.append(f"{where}: targetRef Deployment {ns}/{target} is not in the rendered output")
            continue
        ports = {
            str(p.get("name")): p.get("containerPort")
            for c in _containers(pod_spec(deployment) or {})
            for p in map(as_dict, as_list(c.get("ports")))
        }
        numbers = set(ports.values())
        resolved = ports.get(target_port) if isinstance(target_port, str) else target_port
        if resolved not in numbers:
            errors.append(
                f"{where}: service.targetPort {target_port!r} is not a container port of Deployment {target} "
                f"(ports: {sorted(f'{k}={v}' for k, v in ports.items())})"
            )
        name = str(service.get("name") or target)
        svc = by_kind.get("Service", {}).get((ns, name))
        if svc is None:
            continue  # Flagger creates the Service from spec.service; nothing to disagree with
        svc_ports = [as_dict(p) for p in as_list(as_dict(svc.get("spec")).get("ports"))]
        match = next((p for p in svc_ports if p.get("port") == port), None)
        if match is None:
            shown = [p.get("port") for p in svc_ports]
            errors.append(f"{where}: service.port {port} but Service {ns}/{name} exposes {shown}")
            continue
        svc_target = match.get("targetPort", match.get("port"))
        svc_resolved = ports.get(svc_target) if isinstance(svc_target, str) else svc_target
        if svc_resolved != resolved:
            errors.append(
                f"{where}: service.targetPort {target_port!r} (= {resolved}) but Service {ns}/{name} port {port} "
                f"targets {svc_target!r} (= {svc_resolved})"
            )
    return errors, len(canaries)


def chart_findings(view: ClusterView) -> tuple[list[str], int]:
    oci = {_key(d): d for _, d in view.objects if d.get("kind") == "OCIRepository"}
    errors: list[str] = []
    count = 0
    for where, doc in view.objects:
        if doc.get("kind") != "HelmRelease":
            continue
        count += 1
        spec = as_dict(doc.get("spec"))
        chart = as_dict(as_dict(spec.get("chart")).get("spec"))
        ref = as_dict(spec.get("chartRef"))
        if chart:
            version = chart.get("version")
            if version is None or not EXACT_VERSION.match(str(version)):
                errors.append(f"{where}: chart {chart.get('chart')} version {version!r} is not an exact version")
        elif ref.get("kind") == "OCIRepository":
            repo = oci.get((str(ref.get("namespace") or _key(doc)[0]), str(ref.get("name"))))
            oref = as_dict(as_dict(as_dict(repo).get("spec")).get("ref"))
            if repo is None:
                errors.append(f"{where}: chartRef OCIRepository {ref.get('name')} is not in the rendered output")
            elif not (oref.get("digest") or EXACT_VERSION.match(str(oref.get("tag", "")))):
                errors.append(f"{where}: OCIRepository {ref.get('name')} ref {oref} is not an exact tag or digest")
        else:
            errors.append(f"{where}: no spec.chart.spec (with an exact version) and no OCIRepository chartRef")
    return errors, count


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    return "uses :latest" if last.rsplit(":", 1)[1] == "latest" else None


def _walk_images(node: Any, found: list[str], values: bool = False) -> None:
    """Container images, and in Helm values (values=True) any `image:` string or {repository, tag} block."""
    if isinstance(node, dict):
        image = node.get("image")
        # A container has a name; ImageRepository's spec.image (a repository, untagged on purpose) has none.
        if isinstance(image, str) and ("name" in node or values):
            found.append(image)
        elif isinstance(image, dict) and image.get("tag") is not None:  # Helm values: image: {repository, tag}
            tag = str(image.get("tag"))
            if tag == "latest":
                found.append(f"{image.get('repository', '?')}:latest")
        for value in node.values():
            _walk_images(value, found, values)
    elif isinstance(node, list):
        for value in node:
            _walk_images(value, found, values)


def kustomize_image_tags(directory: Path) -> dict[str, str]:
    """name -> the tag or digest a directory's kustomization.yaml `images:` gives it (what a raw file's untagged
    `image: name` becomes in the build)."""
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = directory / name
        if path.is_file():
            try:
                docs = load_documents(path)
            except (OSError, yaml.YAMLError):
                return {}
            images = as_dict(docs[0] if docs else {}).get("images") or []
            return {
                str(i.get("name")): str(i.get("digest") or i.get("newTag") or "")
                for i in images
                if isinstance(i, dict) and i.get("name")
            }
    return {}


def image_findings(root: Path) -> tuple[list[str], int]:
    errors: list[str] = []
    files = [p for p in iter_yaml_files(root / "k8s") if POLICY_FIXTURES not in p.as_posix()]
    by_directory: dict[Path, dict[str, str]] = {}  # each kustomization.yaml read once, not once per file beside it
    for path in files:
        if path.parent not in by_directory:
            by_directory[path.parent] = kustomize_image_tags(path.parent)
        overrides = by_directory[path.parent]
        for name, tag in overrides.items() if path.name.startswith("kustomization") else ():
            if not tag or tag == "latest":
                errors.append(f"{path.relative_to(root)}: images: {name} gets {'no tag' if not tag else ':latest'}")
        try:
            docs = load_documents(path)
        except (OSError, yaml.YAMLError):
            continue  # yamllint reports it
        for doc in docs:
            found: list[str] = []
            _walk_images(doc, found, values=as_dict(doc).get("kind") == "HelmRelease")
            for image in found:
                # `image: name` in a file whose kustomization pins that name: the build gives it the tag.
                problem = None if overrides.get(image) else image_problem(image)
                if problem:
                    what = f"{as_dict(doc).get('kind')} {_key(as_dict(doc))[1]}"
                    errors.append(f"{path.relative_to(root)}: {what}: image {image} {problem}")
    return errors, len(files)


def resource_findings(view: ClusterView) -> tuple[list[str], int]:
    errors: list[str] = []
    count = 0
    for where, doc in view.objects:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for container in _containers(spec):
            count += 1
            res = as_dict(container.get("resources"))
            missing = [
                f"{part}.{r}" for part in ("requests", "limits") for r in RESOURCES if r not in as_dict(res.get(part))
            ]
            if missing:
                errors.append(f"{where}: container {container.get('name')} lacks resources {', '.join(missing)}")
    return errors, count


class ConsistencyCheck(Check):
    name = "consistency"
    description = "Canary/Service/Deployment ports agree, exact chart versions, pinned images, resources set"

    def run(self, ctx: Context) -> CheckResult:
        errors: list[str] = []
        counts = {"canaries": 0, "releases": 0, "containers": 0}
        for view in cluster_views(render_all(ctx.root)):
            for key, finder in (
                ("canaries", canary_findings),
                ("releases", chart_findings),
                ("containers", resource_findings),
            ):
                found, n = finder(view)
                errors += found
                counts[key] += n
        image_errors, files = image_findings(ctx.root) if ctx.k8s_dir.is_dir() else ([], 0)
        errors += image_errors
        summary = ", ".join(f"{n} {k}" for k, n in counts.items()) + f", {files} file(s) for image tags"
        return CheckResult.from_findings(self.name, summary, sorted(set(errors)), [], sum(counts.values()) + files)
