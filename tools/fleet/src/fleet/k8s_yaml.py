"""Find and read Kubernetes YAML files: shared by `fleet capacity budget` and `fleet validate`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

YAML_SUFFIXES = {".yaml", ".yml"}
KUSTOMIZATION_NAMES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


def is_helm_chart_template(path: Path) -> bool:
    """Files under a chart's templates/ are Go templates, not YAML; every check must skip them."""
    return any(parent.name == "templates" and (parent.parent / "Chart.yaml").exists() for parent in path.parents)


def iter_yaml_files(root: Path) -> Iterator[Path]:
    """Every .yaml/.yml file under `root`, sorted, without Helm chart templates."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.suffix in YAML_SUFFIXES and path.is_file() and not is_helm_chart_template(path):
            yield path


def load_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document in a file. Raises yaml.YAMLError or OSError for the caller to report."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def is_kubernetes_object(doc: Any) -> bool:
    return isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc


def is_kustomize_config(path: Path, doc: Any) -> bool:
    """kustomization.yaml (kustomize.config.k8s.io) is build input for kustomize, not an object to apply; so is
    k8s/kind/kind-config.yaml (kind.x-k8s.io), which `kind create cluster` reads and no API server ever sees."""
    if path.name in KUSTOMIZATION_NAMES:
        return True
    api_version = str(doc.get("apiVersion", "")) if isinstance(doc, dict) else ""
    return api_version.startswith(("kustomize.config.k8s.io/", "kind.x-k8s.io/"))
