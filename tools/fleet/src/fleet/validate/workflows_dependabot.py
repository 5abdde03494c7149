"""`dependabot-coverage`: every directory that pins dependencies has a Dependabot entry of its ecosystem.

A new package.json, Dockerfile or Terraform stack is otherwise never updated, silently. The directories that need
an entry are found from the files in them (tests, fixtures, virtualenvs and node_modules are not shipped and are
skipped); an entry covers a directory when its `directory:` or one of its `directories:` globs matches it.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from pathlib import Path

import yaml

from fleet.validate.workflows_files import GITHUB_DIR, as_list, as_map

DEPENDABOT = GITHUB_DIR / "dependabot.yml"
SKIP_DIRS = {"node_modules", "tests", "fixtures", "var", "__pycache__"}  # plus every dot-directory


def _is_package(pyproject: Path) -> bool:
    """A pyproject.toml that declares a project (the root one only configures tools)."""
    try:
        return "project" in tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return True  # unreadable: count it, so it is looked at rather than skipped


def _ecosystems(folder: Path, names: list[str]) -> set[str]:
    found: set[str] = set()
    if (folder / "pyproject.toml").is_file() and _is_package(folder / "pyproject.toml"):
        found.add("pip")
    if any(n.startswith("requirements") and n.endswith(".txt") for n in names):
        found.add("pip")
    if "package.json" in names:
        found.add("npm")
    if "Dockerfile" in names:
        found.add("docker")
    if any(n.endswith(".tf") for n in names):
        found.add("terraform")
    return found


def needed(root: Path) -> dict[tuple[str, str], None]:
    """(ecosystem, "/dir") pairs the repository needs covered, in walk order."""
    wanted: dict[tuple[str, str], None] = {}
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        folder = Path(here)
        rel = "/" if folder == root else "/" + folder.relative_to(root).as_posix()
        for eco in sorted(_ecosystems(folder, files)):
            wanted[(eco, rel)] = None
    if (root / GITHUB_DIR / "workflows").is_dir():
        wanted[("github-actions", "/")] = None
    return wanted


def _entries(root: Path) -> tuple[list[tuple[str, list[str]]], list[str]]:
    path = root / DEPENDABOT
    if not path.is_file():
        return [], [f"{DEPENDABOT}: missing"]
    try:
        doc = as_map(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        return [], [f"{DEPENDABOT}: cannot parse: {str(exc).splitlines()[0]}"]
    entries: list[tuple[str, list[str]]] = []
    for update in as_list(doc.get("updates")):
        spec = as_map(update)
        dirs = [str(d) for d in as_list(spec.get("directories"))]
        if isinstance(spec.get("directory"), str):
            dirs.append(str(spec["directory"]))
        entries.append((str(spec.get("package-ecosystem")), [d.rstrip("/") or "/" for d in dirs]))
    return entries, []


def coverage_findings(root: Path) -> tuple[list[str], int]:
    """Findings, and how many (ecosystem, directory) pairs were checked."""
    wanted = needed(root)
    if not wanted:
        return [], 0
    entries, errors = _entries(root)
    if errors:  # no readable file: one finding, not one per directory
        return errors, len(wanted)
    for eco, folder in wanted:
        patterns = [p for e, dirs in entries if e == eco for p in dirs]
        if not any(fnmatch.fnmatchcase(folder, p) for p in patterns):
            errors.append(f"{DEPENDABOT}: no `{eco}` entry covers {folder}")
    return errors, len(wanted)
