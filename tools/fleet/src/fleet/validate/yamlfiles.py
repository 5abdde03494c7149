"""File-level checks, usable on any directory: yamllint, Kubernetes schemas, CRD structure, kustomize refs.

The registered checks run them on k8s/; the new-app check runs them on a freshly rendered app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError
from yamllint import linter
from yamllint.config import YamlLintConfig

from fleet.k8s_yaml import KUSTOMIZATION_NAMES, is_kustomize_config, iter_yaml_files, load_documents
from fleet.validate.crds import crd_problems

# Used when the repository has no .yamllint.yaml (e.g. `fleet validate --root` on another checkout).
FALLBACK_YAMLLINT = """
extends: default
rules:
  line-length: {max: 160, level: warning}
  document-start: disable
  truthy: {allowed-values: ["true", "false"], check-keys: false}
  comments: {min-spaces-from-content: 1}
  indentation: {spaces: consistent, indent-sequences: whatever}
"""


def yamllint_findings(files: list[Path], config: Path, base: Path) -> tuple[list[str], list[str]]:
    conf = YamlLintConfig(file=str(config)) if config.is_file() else YamlLintConfig(FALLBACK_YAMLLINT)
    errors: list[str] = []
    warnings: list[str] = []
    for path in files:
        rel = _rel(path, base)
        if conf.is_file_ignored(rel):
            continue
        text = path.read_text(encoding="utf-8")
        for problem in linter.run(text, conf, rel):
            line = f"{rel}:{problem.line}:{problem.column}: {problem.desc} ({problem.rule or 'syntax'})"
            (errors if problem.level == "error" else warnings).append(line)
    return errors, warnings


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _name(doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata")
    return str(metadata.get("name", "?")) if isinstance(metadata, dict) else "?"


def iter_objects(files: list[Path], base: Path, errors: list[str]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(file, document index, object) for every Kubernetes object; parse problems go to `errors`."""
    for path in files:
        rel = _rel(path, base)
        try:
            docs = load_documents(path)
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{rel}: cannot parse YAML: {str(exc).splitlines()[0]}")
            continue
        for index, doc in enumerate(docs):
            if is_kustomize_config(path, doc):
                continue
            where = f"{rel}#{index}"
            if not isinstance(doc, dict) or "kind" not in doc:
                continue  # plain data (Helm values, Chart.yaml, generator input), not an object
            if not doc.get("apiVersion") or not doc.get("kind"):
                errors.append(f"{where}: a Kubernetes object needs both apiVersion and kind")
                continue
            yield rel, index, doc


def schema_findings(files: list[Path], base: Path, k8s_version: str) -> tuple[list[str], list[str], int, int]:
    """Validate built-in kinds in strict mode. Returns errors, warnings, objects checked, CRD objects left."""
    errors: list[str] = []
    checked = deferred = 0
    for rel, index, doc in iter_objects(files, base, errors):
        name = _name(doc)
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
            checked += 1
        except SchemaNotFoundError:
            deferred += 1  # a CRD kind: the crd check covers it
        except ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(root)"
            errors.append(f"{rel}#{index} {doc['kind']}/{name}: {path}: {exc.message}")
    return errors, [], checked, deferred


def crd_findings(files: list[Path], base: Path, k8s_version: str) -> tuple[list[str], list[str], int]:
    """Structural checks for objects whose kind kubernetes-validate has no schema for."""
    errors: list[str] = []
    warnings: list[str] = []
    checked = 0
    for rel, index, doc in iter_objects(files, base, errors):
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
            continue  # a built-in kind; the schema check owns it
        except SchemaNotFoundError:
            pass
        except ValidationError:
            continue
        checked += 1
        found, notes = crd_problems(doc)
        name = _name(doc)
        errors += [f"{rel}#{index} {doc['kind']}/{name}: {p}" for p in found]
        warnings += [f"{rel}#{index} {doc['kind']}/{name}: {n}" for n in notes]
    return errors, warnings, checked


def kustomize_findings(directory: Path, base: Path) -> tuple[list[str], int]:
    """Every local entry a kustomization.yaml lists must exist (kustomize build would fail otherwise)."""
    errors: list[str] = []
    count = 0
    for kfile in (p for p in iter_yaml_files(directory) if p.name in KUSTOMIZATION_NAMES):
        count += 1
        try:
            spec = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue  # yamllint reports the syntax error
        entries = [*spec.get("resources", []), *spec.get("components", [])] if isinstance(spec, dict) else []
        for entry in entries:
            text = str(entry)
            if "://" in text or text.startswith(("github.com/", "git@")):
                continue
            target = kfile.parent / text
            if not target.exists():
                errors.append(f"{_rel(kfile, base)}: resource {text} does not exist")
            elif target.is_dir() and not any((target / n).is_file() for n in KUSTOMIZATION_NAMES):
                errors.append(f"{_rel(kfile, base)}: directory {text} has no kustomization.yaml")
    return errors, count
