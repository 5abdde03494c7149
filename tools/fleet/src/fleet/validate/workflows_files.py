"""The GitHub Actions files the workflow checks read, parsed once, with typed accessors over the YAML.

Workflows are `.github/workflows/*.yml|yaml`; composite actions are `.github/actions/**/action.yml|yaml`. PyYAML
follows YAML 1.1, so the workflow key `on:` arrives as the boolean True; `triggers()` reads either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

GITHUB_DIR = Path(".github")
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
ACTIONS_DIR = GITHUB_DIR / "actions"
YAML_SUFFIXES = (".yml", ".yaml")

# A parsed YAML mapping. Values stay `object` and are narrowed where read, so a workflow with a wrong shape yields a
# finding instead of a crash.
YamlMap = dict[str, object]


def as_map(value: object) -> YamlMap:
    """The value if it is a mapping (keys as strings), else an empty one."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class ActionsFile:
    """One workflow or composite action: where it is, its text (for comments, which YAML drops) and its YAML."""

    path: Path
    rel: str  # repository-relative, for messages
    text: str
    doc: YamlMap
    is_workflow: bool
    problem: str | None = None  # why it could not be parsed

    def jobs(self) -> Iterator[tuple[str, YamlMap]]:
        for job_id, job in as_map(self.doc.get("jobs")).items():
            yield job_id, as_map(job)

    def triggers(self) -> YamlMap:
        raw = self.doc.get("on", self.doc.get("True"))  # YAML 1.1 reads `on` as True, which as_map made "True"
        if isinstance(raw, str):
            return {raw: {}}
        if isinstance(raw, list):
            return {str(name): {} for name in raw}
        return as_map(raw)

    def steps(self, job: YamlMap | None = None) -> list[YamlMap]:
        """The job's steps; for a composite action, `runs.steps`."""
        source = job if job is not None else as_map(self.doc.get("runs"))
        return [as_map(s) for s in as_list(source.get("steps"))]


def _load(path: Path, root: Path, is_workflow: bool) -> ActionsFile:
    rel = str(path.relative_to(root))
    text = path.read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return ActionsFile(path, rel, text, {}, is_workflow, f"cannot parse: {str(exc).splitlines()[0]}")
    if not isinstance(doc, dict):
        return ActionsFile(path, rel, text, {}, is_workflow, "not a mapping")
    return ActionsFile(path, rel, text, as_map(doc), is_workflow)


def workflow_paths(root: Path) -> list[Path]:
    folder = root / WORKFLOWS_DIR
    return sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES) if folder.is_dir() else []


def action_paths(root: Path) -> list[Path]:
    folder = root / ACTIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("action.*") if p.suffix in YAML_SUFFIXES)


def load_files(root: Path) -> list[ActionsFile]:
    """Every workflow, then every composite action, parsed."""
    return [_load(p, root, True) for p in workflow_paths(root)] + [_load(p, root, False) for p in action_paths(root)]
