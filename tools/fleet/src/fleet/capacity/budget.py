"""Count the pods a set of manifests would run, for `fleet capacity budget`.

Worst case is the budget: a Deployment or StatefulSet that an HPA targets counts at the HPA's maxReplicas,
because the node must have room for the peak the HPA may scale to; otherwise the extra pods sit Pending
exactly when load is highest. Flux HelmReleases count through data/chart-pods.yaml (fleet/capacity/charts.py).
CPU and memory requests are summed on two bases (fleet/capacity/requests.py): steady state (an HPA's target at
its minReplicas) and peak (at maxReplicas, the same figure as the pod count).
Kustomize patches are not applied: point it at plain files or a base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from fleet.capacity.charts import ChartTable, count_release, is_helm_release, oci_chart_names
from fleet.capacity.requests import Requests, pod_requests
from fleet.capacity.system import SystemRow, replace_by_releases
from fleet.k8s_yaml import KUSTOMIZATION_NAMES, is_kubernetes_object, is_kustomize_config, iter_yaml_files
from fleet.k8s_yaml import load_documents as _load

REPLICATED = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}


class Workload(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str
    name: str
    namespace: str
    pods: int
    basis: str  # why this many pods
    source: str  # file it came from
    counted: bool = True  # False when the system table already covers its namespace
    chart: str | None = None  # HelmReleases: the chart's name
    assumed: bool = False  # a HelmRelease of a chart that chart-pods.yaml lacks: its count is a guess
    steady_pods: int = 0  # without load: an HPA's target at minReplicas
    requests: Requests = Requests()  # steady state, all its pods
    peak_requests: Requests = Requests()  # at `pods`
    requested: bool = True  # False: no container requests anything (the scheduler counts 0)


class Scan(BaseModel):
    workloads: list[Workload] = []
    system: list[SystemRow] = []
    warnings: list[str] = []

    @property
    def pods(self) -> int:
        return sum(w.pods for w in self.workloads if w.counted)

    @property
    def system_pods(self) -> int:
        return sum(row.pods for row in self.system if row.counted)


@dataclass
class _Doc:
    path: Path
    obj: dict[str, Any]
    namespace: str | None  # from the enclosing kustomization, if any


def _read(path: Path, namespace: str | None, scan: Scan) -> list[_Doc]:
    try:
        docs = _load(path)
    except (OSError, yaml.YAMLError) as exc:
        scan.warnings.append(f"{path}: skipped, cannot parse: {exc}")
        return []
    return [_Doc(path, d, namespace) for d in docs if is_kubernetes_object(d) and not is_kustomize_config(path, d)]


def _kustomization_file(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)


def _from_kustomization(kfile: Path, namespace: str | None, scan: Scan, seen: set[Path]) -> list[_Doc]:
    if kfile in seen:
        return []
    seen.add(kfile)
    try:
        spec = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        scan.warnings.append(f"{kfile}: skipped, cannot parse: {exc}")
        return []
    ns = spec.get("namespace") or namespace
    docs: list[_Doc] = []
    for entry in [*spec.get("resources", []), *spec.get("bases", [])]:
        target = kfile.parent / str(entry)
        if "://" in str(entry) or str(entry).startswith("github.com/"):
            scan.warnings.append(f"{kfile}: remote resource {entry} not counted")
        elif target.is_dir() and (inner := _kustomization_file(target)):
            docs += _from_kustomization(inner, ns, scan, seen)
        elif target.is_file():
            docs += _read(target, ns, scan)
        else:
            scan.warnings.append(f"{kfile}: resource {entry} not found")
    return docs


def _nearest_namespace(path: Path, root: Path) -> str | None:
    """Namespace set by the closest kustomization.yaml between the file and `root`, as kustomize would."""
    for directory in [path.parent, *path.parent.parents]:
        kfile = _kustomization_file(directory)
        if kfile is not None:
            try:
                ns = (yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}).get("namespace")
            except (OSError, yaml.YAMLError, AttributeError):
                ns = None
            if ns:
                return str(ns)
        if directory == root:
            break
    return None


def collect(root: Path, scan: Scan) -> list[_Doc]:
    """Documents under `root`: the kustomization's resources if it has one, else every YAML file."""
    kfile = _kustomization_file(root) if root.is_dir() else None
    if kfile is not None:
        return _from_kustomization(kfile, None, scan, set())
    docs: list[_Doc] = []
    for path in iter_yaml_files(root):
        docs += _read(path, _nearest_namespace(path, root) if root.is_dir() else None, scan)
    return docs


def _dict(value: Any) -> dict[str, Any]:
    """Malformed manifests (`metadata: null`, `spec: []`) count as empty rather than crash the budget."""
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value >= 0 else default


def _release_workload(doc: _Doc, charts: ChartTable, oci: dict[tuple[str, str], str], scan: Scan) -> Workload:
    meta, spec = _dict(doc.obj.get("metadata")), _dict(doc.obj.get("spec"))
    name = str(meta.get("name", "?"))
    # The release's pods run in spec.targetNamespace when set (Flux often keeps HelmReleases in flux-system).
    namespace = str(spec.get("targetNamespace") or meta.get("namespace") or doc.namespace or "default")
    release = count_release(doc.obj, charts, oci)
    scan.warnings += [f"{doc.path}: HelmRelease {namespace}/{name}: {w}" for w in release.warnings]
    if release.unrequested:
        scan.warnings.append(
            f"{doc.path}: HelmRelease {namespace}/{name}: {', '.join(release.unrequested)} request no CPU or "
            "memory (chart default and spec.values): counted as 0, as the scheduler does"
        )
    return Workload(
        kind="HelmRelease",
        name=name,
        namespace=namespace,
        pods=release.pods,
        basis=release.basis,
        source=str(doc.path),
        chart=release.chart,
        assumed=release.known_chart is None,
        steady_pods=release.steady_pods,
        requests=release.requests,
        peak_requests=release.peak_requests,
    )


HpaRange = tuple[int, int, str]  # minReplicas, maxReplicas, the HPA's name


def _pod_spec(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    return _dict(_dict(spec.get("template")).get("spec"))


def _workload(doc: _Doc, ns: str, hpas: dict[tuple[str, str, str], HpaRange]) -> Workload | None:
    kind, spec = doc.obj["kind"], _dict(doc.obj.get("spec"))
    name = str(_dict(doc.obj.get("metadata")).get("name", "?"))
    steady: int | None = None
    if kind in REPLICATED:
        if (ns, kind, name) in hpas:
            steady, pods, hpa = hpas[(ns, kind, name)]
            basis = f"HPA {hpa} maxReplicas (worst case)"
        else:
            pods, basis = _int(spec.get("replicas"), 1), "replicas"
    elif kind == "DaemonSet":
        pods, basis = 1, "DaemonSet: 1 per node"
    elif kind == "Pod":
        pods, basis = 1, "bare Pod"
    elif kind == "Job":
        pods, basis = _int(spec.get("parallelism"), 1), "Job parallelism"
    elif kind == "CronJob":
        job = _dict(_dict(spec.get("jobTemplate")).get("spec"))
        pods, basis = _int(job.get("parallelism"), 1), "CronJob parallelism while it runs"
    else:
        return None
    per_pod, requested = pod_requests(_pod_spec(kind, spec))
    steady_pods = pods if steady is None else min(steady, pods)
    return Workload(
        kind=kind,
        name=name,
        namespace=ns,
        pods=pods,
        basis=basis,
        source=str(doc.path),
        steady_pods=steady_pods,
        requests=per_pod * steady_pods,
        peak_requests=per_pod * pods,
        requested=requested,
    )


def scan_manifests(root: Path, system: list[SystemRow], charts: ChartTable) -> Scan:
    """Workloads and HelmReleases under `root`, and the system rows that still count beside them.

    A HelmRelease is always counted; a system row naming its chart gives way to it. A plain workload in a
    namespace that a counted system row covers (Flux's own Deployments in flux-system) is listed, not counted.
    """
    scan = Scan()
    docs = collect(root, scan)

    def ns_of(doc: _Doc) -> str:
        return str(_dict(doc.obj.get("metadata")).get("namespace") or doc.namespace or "default")

    oci = oci_chart_names([doc.obj for doc in docs])
    releases = [_release_workload(doc, charts, oci, scan) for doc in docs if is_helm_release(doc.obj)]
    installed = {w.chart: f"HelmRelease {w.namespace}/{w.name}" for w in releases if w.chart and not w.assumed}
    scan.system = replace_by_releases(system, installed)
    covered = {row.namespace for row in scan.system if row.counted}

    hpas: dict[tuple[str, str, str], HpaRange] = {}
    for doc in docs:
        if doc.obj["kind"] == "HorizontalPodAutoscaler":
            spec = _dict(doc.obj.get("spec"))
            ref = _dict(spec.get("scaleTargetRef"))
            hpa = _dict(doc.obj.get("metadata")).get("name", "?")
            low = spec.get("minReplicas")
            hpas[(ns_of(doc), str(ref.get("kind")), str(ref.get("name")))] = (
                low if isinstance(low, int) and low > 0 else 1,  # Kubernetes defaults minReplicas to 1
                _int(spec.get("maxReplicas"), 1),
                str(hpa),
            )
    for doc in docs:
        workload = _workload(doc, ns_of(doc), hpas)
        if workload is None:
            continue
        if workload.namespace in covered:
            basis = workload.basis + "; namespace counted by the system table"
            workload = workload.model_copy(update={"counted": False, "basis": basis})
        elif workload.pods and not workload.requested:
            scan.warnings.append(
                f"{workload.source}: {workload.kind} {workload.namespace}/{workload.name} requests no CPU or "
                "memory: counted as 0, as the scheduler does"
            )
        scan.workloads.append(workload)
    scan.workloads += releases
    scan.warnings += [
        f"system {row.namespace}/{row.name}: requests unknown (system-pods.yaml), counted as 0"
        for row in scan.system
        if row.counted and row.requests is None
    ]
    return scan
