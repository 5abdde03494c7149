"""Checks on the apps under k8s/applications/base/: catalog annotations, and namespace-wide objects.

Registered by checks.py, after the file checks.

A ResourceQuota or LimitRange applies to a whole namespace. When one app's directory writes one into a namespace
other apps share, it caps them all (finding 9: `pods: "4"` in the shared namespace, where LoadHarness scales to
8). And any quota that the HPAs in its namespace can outgrow blocks scale-up exactly when load arrives.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from fleet.catalog.reader import base_dir, read_catalog
from fleet.k8s_yaml import KUSTOMIZATION_NAMES, is_kubernetes_object, iter_yaml_files, load_documents
from fleet.validate.base import Check, CheckResult, Context

NAMESPACE_WIDE_KINDS = ("ResourceQuota", "LimitRange")


class AppAnnotationsCheck(Check):
    name = "app-annotations"
    description = "every app under k8s/applications/base/ carries the catalog annotations (owner, tier, slo, ...)"

    def run(self, ctx: Context) -> CheckResult:
        entries = read_catalog(ctx.root)
        errors = [f"app {e.name} ({e.directory}): {p}" for e in entries for p in e.problems]
        summary = f"{len(entries)} app(s)" + ("" if entries else f" (nothing under {base_dir(ctx.root)})")
        return CheckResult.from_findings(self.name, summary, errors, [], len(entries))


class PlacedObject(BaseModel):
    """A Kubernetes object as kustomize would place it: in the namespace its kustomization sets, if any."""

    model_config = ConfigDict(frozen=True)

    app: str  # the directory under base/ it came from
    file: str
    kind: str
    name: str
    namespace: str
    doc: dict[str, Any]


def _kustomization_namespace(app_dir: Path) -> str | None:
    for name in KUSTOMIZATION_NAMES:
        path = app_dir / name
        if path.is_file():
            try:
                spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                return None  # yamllint reports it
            value = spec.get("namespace") if isinstance(spec, dict) else None
            return str(value) if value else None
    return None


def _objects_in(path: Path) -> list[dict[str, Any]]:
    if path.name in KUSTOMIZATION_NAMES:
        return []
    try:
        return [d for d in load_documents(path) if is_kubernetes_object(d)]
    except (OSError, yaml.YAMLError):
        return []  # yamllint and k8s-schema report it


def _place(root: Path, path: Path, doc: dict[str, Any], app: str, override: str | None) -> PlacedObject:
    metadata = doc.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return PlacedObject(
        app=app,
        file=str(path.relative_to(root)),
        kind=str(doc["kind"]),
        name=str(metadata.get("name", "?")),
        namespace=override or str(metadata.get("namespace") or "default"),
        doc=doc,
    )


def placed_objects(root: Path) -> list[PlacedObject]:
    """Objects of every app under base/ (app set), and of the rest of k8s/ (app ""), e.g. a namespace owner's quota."""
    out: list[PlacedObject] = []
    base = base_dir(root)
    app_dirs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for app_dir in app_dirs:
        override = _kustomization_namespace(app_dir)
        for path in iter_yaml_files(app_dir):
            out += [_place(root, path, doc, app_dir.name, override) for doc in _objects_in(path)]
    k8s_dir = root / "k8s"
    for path in iter_yaml_files(k8s_dir) if k8s_dir.is_dir() else []:
        if not path.is_relative_to(base):
            out += [_place(root, path, doc, "", None) for doc in _objects_in(path)]
    return out


def _quota_pods(obj: PlacedObject) -> int | None:
    hard = (obj.doc.get("spec") or {}).get("hard") or {}
    try:
        return int(str(hard["pods"])) if "pods" in hard else None
    except ValueError:
        return None  # not a count; the schema check reports it


def _max_replicas(obj: PlacedObject) -> int:
    value = (obj.doc.get("spec") or {}).get("maxReplicas")
    return value if isinstance(value, int) else 0


class AppNamespaceQuotaCheck(Check):
    name = "app-namespace-quota"
    description = "no app writes a ResourceQuota/LimitRange into a shared namespace; HPAs fit their namespace's quota"

    def run(self, ctx: Context) -> CheckResult:
        objects = placed_objects(ctx.root)
        apps_in: dict[str, set[str]] = defaultdict(set)
        for obj in objects:
            if obj.app and obj.kind != "Namespace":
                apps_in[obj.namespace].add(obj.app)
        errors: list[str] = []
        for obj in (o for o in objects if o.app and o.kind in NAMESPACE_WIDE_KINDS):
            others = sorted(apps_in[obj.namespace] - {obj.app})
            if others:
                errors.append(
                    f"app {obj.app} ({obj.file}): {obj.kind}/{obj.name} caps the whole namespace {obj.namespace}, "
                    f"which {', '.join(others)} share(s); leave it to the namespace's owner or give the app its "
                    "own namespace (new-app --own-namespace)"
                )
        for quota in (o for o in objects if o.kind == "ResourceQuota"):
            pods = _quota_pods(quota)
            hpas = [o for o in objects if o.kind == "HorizontalPodAutoscaler" and o.namespace == quota.namespace]
            # Each HPA-scaled workload at maxReplicas, plus one rollout surge pod each (new-app's maxSurge: 1).
            needed = sum(_max_replicas(h) + 1 for h in hpas)
            if pods is not None and needed > pods:
                scaled = ", ".join(f"{h.name} {_max_replicas(h)}+1" for h in hpas)
                errors.append(
                    f"{quota.file}: ResourceQuota/{quota.name} allows {pods} pod(s) in namespace "
                    f"{quota.namespace}, but its HPAs scale to {needed} ({scaled}); raise the quota or lower "
                    "maxReplicas"
                )
        checked = len({o.app for o in objects if o.app})
        return CheckResult.from_findings(
            self.name, f"{checked} app(s), {len(apps_in)} namespace(s)", errors, [], checked
        )
