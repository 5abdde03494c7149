"""Schema checks over the rendered tree (render.py): built-in kinds with kubernetes-validate --strict, custom
resources against their CRD schemas (crdschema.py). An object rendered identically for several clusters is
validated once and its errors name every target it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from fleet.validate.crdschema import models_validate, repo_schemas, schema_errors, tree_schemas
from fleet.validate.render import RenderedObject

# ObjectMeta fields a manifest may set; CRD schemas do not describe metadata (the API server does).
OBJECT_META = {
    "name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
    "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "generation", "managedFields",
    "resourceVersion", "selfLink", "uid",
}  # fmt: skip


@dataclass(frozen=True)
class UniqueObject:
    obj: RenderedObject  # the first rendering
    targets: tuple[str, ...]  # every target label that rendered exactly this object

    @property
    def where(self) -> str:
        more = f" (also {', '.join(self.targets[1:])})" if len(self.targets) > 1 else ""
        return self.obj.where + more


def unique_objects(objects: list[RenderedObject]) -> list[UniqueObject]:
    seen: dict[str, tuple[RenderedObject, list[str]]] = {}
    for obj in objects:
        key = json.dumps(obj.doc, sort_keys=True, default=str)
        if key in seen:
            seen[key][1].append(obj.target.label)
        else:
            seen[key] = (obj, [obj.target.label])
    return [UniqueObject(obj, tuple(labels)) for obj, labels in seen.values()]


def _builtin(doc: dict[str, Any], k8s_version: str) -> str | None:
    """None when kubernetes-validate has a strict schema and the object passes; "crd" when it has no schema;
    otherwise the error."""
    try:
        kubernetes_validate.validate(doc, k8s_version, strict=True)
        return None
    except SchemaNotFoundError:
        return "crd"
    except ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        return f"{path}: {exc.message}"


def rendered_schema_findings(objects: list[UniqueObject], k8s_version: str) -> tuple[list[str], int, int]:
    """Errors, built-in objects checked, custom resources left to crd-schema."""
    errors: list[str] = []
    checked = deferred = 0
    for unique in objects:
        doc = unique.obj.doc
        if not unique.obj.api_version or not unique.obj.kind:
            errors.append(f"{unique.where}: a Kubernetes object needs both apiVersion and kind")
            continue
        verdict = _builtin(doc, k8s_version)
        if verdict == "crd":
            deferred += 1
            continue
        checked += 1
        if verdict:
            errors.append(f"{unique.where}: {verdict}")
    return errors, checked, deferred


def crd_schema_findings(objects: list[UniqueObject], k8s_version: str) -> tuple[list[str], int]:
    """Errors and custom resources checked. A kind with no schema anywhere is an error: every kind is covered."""
    custom = [u for u in objects if u.obj.api_version and u.obj.kind and _builtin(u.obj.doc, k8s_version) == "crd"]
    in_tree = tree_schemas([u.obj.doc for u in objects if u.obj.kind == "CustomResourceDefinition"])
    schemas = {**in_tree, **repo_schemas()}
    errors: list[str] = []
    for_node: list[UniqueObject] = []
    for unique in custom:
        obj = unique.obj
        if "." not in obj.group:
            # core and built-in groups (apps, batch, policy...) have schemas: the kind or version is wrong.
            errors.append(f"{unique.where}: no kind {obj.kind!r} in built-in API {obj.api_version!r}")
            continue
        schema = schemas.get((obj.api_version, obj.kind))
        if schema is None:
            for_node.append(unique)
            continue
        metadata = obj.doc.get("metadata")
        keys = set(metadata) if isinstance(metadata, dict) else set()
        found = [f"metadata.{k}: unknown field" for k in sorted(keys - OBJECT_META)]
        errors += [f"{unique.where}: {e}" for e in found + schema_errors(schema, obj.doc)]
    verdicts, problem = models_validate([u.obj.doc for u in for_node])
    if problem:
        errors.append(f"{len(for_node)} custom resource(s) not validated: {problem}")
    for unique, verdict in zip(for_node, verdicts, strict=False):
        if not verdict.known:
            errors.append(
                f"{unique.where}: no CRD schema for {unique.obj.api_version} {unique.obj.kind} in the "
                "@kubernetes-models packages (tools/fleet/crd-models), fleet/data/crds/ or the rendered CRDs"
            )
        errors += [f"{unique.where}: {e}" for e in verdict.errors]
    return errors, len(custom)
