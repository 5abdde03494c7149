"""Validate custom resources against their CRDs' openAPIV3Schema, strictly (an unknown field is an error).

Two sources of schemas:
- the npm @kubernetes-models packages pinned in tools/fleet/crd-models/ (Flux, prometheus-operator,
  cert-manager, Gateway API, external-secrets, Karpenter), run by crd-models/validate.mjs under node;
- CustomResourceDefinitions kept in the repository (fleet/data/crds/*.yaml: Flagger) or rendered from the tree,
  turned into strict JSON Schema here and checked with jsonschema, the validator kubernetes-validate uses.
node_modules is installed with `npm ci` on first use (the lock file pins every package), so a clean clone
needs only node and npm on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

import fleet
from fleet.validate.shapes import as_dict

MODELS_DIR = Path(fleet.__file__).resolve().parents[2] / "crd-models"  # tools/fleet/crd-models
REPO_CRDS = Path(fleet.__file__).resolve().parent / "data" / "crds"
NODE_TIMEOUT_S = 300  # typescript reads the declarations of every kind used: seconds, not minutes
NPM_TIMEOUT_S = 600


@dataclass(frozen=True)
class CrdVerdict:
    known: bool  # False: no schema for this apiVersion/kind anywhere
    errors: tuple[str, ...] = ()


def _installed_marker() -> Path:
    return MODELS_DIR / "node_modules" / ".package-lock.json"  # npm writes it on every install


def ensure_models() -> str | None:
    """`npm ci` when node_modules is missing or older than the lock file; returns an error or None."""
    lock = MODELS_DIR / "package-lock.json"
    marker = _installed_marker()
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: crd-schema installs tools/fleet/crd-models with `npm ci` (needs node and npm)"
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=MODELS_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        return f"npm ci in {MODELS_DIR} failed: {proc.stderr.strip()[-500:]}"
    return None


def models_validate(objects: list[dict[str, Any]]) -> tuple[list[CrdVerdict], str | None]:
    """One verdict per object from the npm models, or an error saying why they could not run."""
    if not objects:
        return [], None
    problem = ensure_models()
    if problem:
        return [], problem
    node = shutil.which("node")
    if node is None:
        return [], "node not found: crd-schema runs tools/fleet/crd-models/validate.mjs"
    proc = subprocess.run(
        [node, str(MODELS_DIR / "validate.mjs")],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        return [], f"validate.mjs failed: {proc.stderr.strip()[-800:]}"
    raw = json.loads(proc.stdout)
    return [CrdVerdict(bool(r.get("known")), tuple(r.get("errors", []))) for r in raw], None


def strict_schema(node: Any) -> Any:
    """OpenAPI v3 (CRD dialect) -> JSON Schema that also rejects unknown fields, as the API server's
    field validation (kubectl --validate=strict) does. Free-form parts stay free-form."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = strict_schema(value)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "example", "externalDocs"):
            continue  # annotations, or handled below
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    free = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-embedded-resource")
    if "properties" in node and "additionalProperties" not in node and not free:
        out["additionalProperties"] = False
    return out


def _crd_schemas(crd: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    spec = as_dict(crd.get("spec"))
    group, kind = str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for version in spec.get("versions") or []:
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict) and version.get("served", True):
            strict = strict_schema(schema)
            # metadata is validated by the API server, not the CRD schema: let anything through here.
            strict.setdefault("properties", {})["metadata"] = {"type": "object"}
            strict["properties"].setdefault("apiVersion", {"type": "string"})
            strict["properties"].setdefault("kind", {"type": "string"})
            out[(f"{group}/{version['name']}", kind)] = strict
    return out


@cache
def repo_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict schema, from the CRDs kept in fleet/data/crds/."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(REPO_CRDS.glob("*.yaml")):
        # The C loader: the Envoy Gateway CRD is half a megabyte, seconds for the pure-Python one.
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.update(_crd_schemas(doc))
    return out


def tree_schemas(crds: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Schemas of CustomResourceDefinitions the tree itself renders (a CRD shipped beside its objects)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for crd in crds:
        out.update(_crd_schemas(crd))
    return out


def schema_errors(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    found = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found
