"""Count the pods a set of manifests would run, for `fleet capacity budget`.

Worst case is the budget: a Deployment or StatefulSet that an HPA targets counts at the HPA's maxReplicas,
because the node must have room for the peak the HPA may scale to; otherwise the extra pods sit Pending
exactly when load is highest. Kustomize patches are not applied: point it at plain files or a base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fleet.datafiles import load_model, packaged
from fleet.k8s_yaml import KUSTOMIZATION_NAMES, is_kubernetes_object, is_kustomize_config, iter_yaml_files
from fleet.k8s_yaml import load_documents as _load

REPLICATED = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}


class SystemEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pods: Annotated[int, Field(ge=0)]
    what: str = ""


class SystemTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    system_pods: dict[str, SystemEntry]


def load_system_table(path: Path | None = None) -> SystemTable:
    return load_model(path or packaged("system-pods.yaml"), SystemTable)


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    namespace: str
    pods: int
    basis: str  # why this many pods
    source: str  # file it came from
    counted: bool = True  # False when the system table already covers its namespace


@dataclass
class Scan:
    workloads: list[Workload] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def pods(self) -> int:
        return sum(w.pods for w in self.workloads if w.counted)


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


def scan_manifests(root: Path, system_namespaces: set[str]) -> Scan:
    scan = Scan()
    docs = collect(root, scan)

    def ns_of(doc: _Doc) -> str:
        return str(_dict(doc.obj.get("metadata")).get("namespace") or doc.namespace or "default")

    hpa_max: dict[tuple[str, str, str], tuple[int, str]] = {}
    for doc in docs:
        if doc.obj["kind"] == "HorizontalPodAutoscaler":
            spec = _dict(doc.obj.get("spec"))
            ref = _dict(spec.get("scaleTargetRef"))
            hpa = _dict(doc.obj.get("metadata")).get("name", "?")
            hpa_max[(ns_of(doc), str(ref.get("kind")), str(ref.get("name")))] = (
                _int(spec.get("maxReplicas"), 1),
                hpa,
            )
    for doc in docs:
        kind, spec = doc.obj["kind"], _dict(doc.obj.get("spec"))
        name = str(_dict(doc.obj.get("metadata")).get("name", "?"))
        ns = ns_of(doc)
        if kind in REPLICATED:
            if (ns, kind, name) in hpa_max:
                pods, hpa = hpa_max[(ns, kind, name)]
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
            continue
        counted = ns not in system_namespaces
        if not counted:
            basis += "; namespace counted by the system table"
        scan.workloads.append(Workload(kind, name, ns, pods, basis, str(doc.path), counted))
    return scan
