"""Read the apps under k8s/applications/ (Flux layout) into typed catalog entries. Raw YAML, no network.

Layout: k8s/applications/base/<app>/ holds each app; every other directory under k8s/applications/ is an
environment overlay (k8s/applications/<env>/), and an app is deployed there when the overlay's kustomization
lists ../base/<app>. The annotations come from the app's workload in base: overlay patches are not applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from fleet.catalog.annotations import FIELDS, PREFIX, TIER_LIFECYCLE, annotation_problems
from fleet.k8s_yaml import KUSTOMIZATION_NAMES, is_kubernetes_object, iter_yaml_files, load_documents

# Kinds whose metadata carries the catalog annotations, in the order one is picked when an app has several.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "HelmRelease")


def applications_dir(root: Path) -> Path:
    return root / "k8s" / "applications"


def base_dir(root: Path) -> Path:
    return applications_dir(root) / "base"


class CatalogEntry(BaseModel):
    """One app as the catalog shows it; absent annotations are None and listed in `problems`."""

    model_config = ConfigDict(frozen=True)

    name: str
    directory: str  # relative to the root
    namespace: str | None
    workload: str | None  # "Deployment/cart", the object the annotations were read from
    owner: str | None
    tier: str | None
    slo: str | None
    runbook: str | None
    dashboard: str | None
    repo: str | None
    environments: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def lifecycle(self) -> str | None:
        return TIER_LIFECYCLE.get(self.tier or "")


def _objects(app_dir: Path, problems: list[str], root: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in iter_yaml_files(app_dir):
        if path.name in KUSTOMIZATION_NAMES:
            continue
        try:
            docs = load_documents(path)
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path.relative_to(root)}: cannot parse YAML: {str(exc).splitlines()[0]}")
            continue
        found += [doc for doc in docs if is_kubernetes_object(doc)]
    return found


def _pick_workload(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The workload carrying catalog annotations, else the first workload by WORKLOAD_KINDS order."""
    workloads = sorted(
        (o for o in objects if o.get("kind") in WORKLOAD_KINDS), key=lambda o: WORKLOAD_KINDS.index(o["kind"])
    )
    annotated = [o for o in workloads if any(k.startswith(f"{PREFIX}/") for k in _annotations(o))]
    candidates = annotated or workloads
    return candidates[0] if candidates else None


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    raw = metadata.get("annotations") if isinstance(metadata, dict) else None
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _metadata(obj: dict[str, Any], key: str) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get(key) if isinstance(metadata, dict) else None
    return str(value) if value is not None else None


def _environments(root: Path) -> dict[str, list[str]]:
    """app name -> overlays (k8s/applications/<env>/) whose kustomization lists ../base/<app> (or deeper)."""
    deployed: dict[str, list[str]] = {}
    apps_dir = applications_dir(root)
    for kfile in (p for p in iter_yaml_files(apps_dir) if p.name in KUSTOMIZATION_NAMES):
        env = kfile.relative_to(apps_dir).parts[0]
        if env == "base" or len(kfile.relative_to(apps_dir).parts) < 2:
            continue
        try:
            spec = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue  # `fleet validate` reports the syntax error
        entries = spec.get("resources", []) if isinstance(spec, dict) else []
        for entry in entries:
            target = (kfile.parent / str(entry)).resolve()
            if target.parent == base_dir(root).resolve() and env not in deployed.setdefault(target.name, []):
                deployed[target.name].append(env)
    return deployed


def read_entry(app_dir: Path, root: Path, environments: tuple[str, ...] = ()) -> CatalogEntry:
    problems: list[str] = []
    workload = _pick_workload(_objects(app_dir, problems, root))
    if workload is None:
        problems.append(f"no {', '.join(WORKLOAD_KINDS)} to carry the catalog annotations")
        annotations: dict[str, str] = {}
    else:
        annotations = _annotations(workload)
        problems += annotation_problems(annotations)
    values = {f.name: annotations.get(f.key) for f in FIELDS}
    return CatalogEntry(
        name=app_dir.name,
        directory=str(app_dir.relative_to(root)),
        namespace=_metadata(workload, "namespace") if workload else None,
        workload=f"{workload['kind']}/{_metadata(workload, 'name')}" if workload else None,
        environments=environments,
        problems=tuple(problems),
        **values,
    )


def read_catalog(root: Path) -> list[CatalogEntry]:
    """Every app directory under ROOT/k8s/applications/base/, sorted by name; [] when there is none."""
    base = base_dir(root)
    if not base.is_dir():
        return []
    environments = _environments(root)
    return [
        read_entry(app_dir, root, tuple(sorted(environments.get(app_dir.name, []))))
        for app_dir in sorted(p for p in base.iterdir() if p.is_dir())
    ]
