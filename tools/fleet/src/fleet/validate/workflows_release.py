"""`release-versions`: release-please can bump every version we ship, and today they agree.

release-please's python strategy rewrites a package's pyproject.toml `[project].version` and nothing else that it
cannot find by name. A version written anywhere more (a `__version__ = "…"` literal) would stay behind at the next
release, and the image, `/api/info` and the build-info metric would report the old one. So: the manifest and the
config name the same packages; each package's pyproject.toml holds the manifest's version; a version literal in
its source is listed in `extra-files` and carries the `x-release-please-version` marker (or, better, the package
reads its version from importlib.metadata, as both ours do).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

CONFIG = Path("release-please-config.json")
MANIFEST = Path(".release-please-manifest.json")
MARKER = "x-release-please-version"
VERSION_LITERAL = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*["'](?P<version>[^"']+)["']""")
SKIP_DIRS = {"tests", ".venv", "node_modules", "__pycache__"}


def _json_object(path: Path, root: Path, errors: list[str]) -> dict[str, object]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        errors.append(f"{path.relative_to(root)}: not readable JSON ({exc})")
        return {}
    if not isinstance(loaded, dict):
        errors.append(f"{path.relative_to(root)}: expected a JSON object")
        return {}
    return loaded


def _pyproject_version(package: Path) -> str | None:
    try:
        project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    version = project.get("version") if isinstance(project, dict) else None
    return version if isinstance(version, str) else None


def _literals(package: Path) -> list[tuple[Path, int, str, str]]:
    """(file, line number, version, line) for each module-level `__version__ = "…"` in the package's shipped
    Python files (an indented one is a fallback, such as the one for a source tree that was never installed)."""
    found: list[tuple[Path, int, str, str]] = []
    for path in sorted(package.rglob("*.py")):
        if SKIP_DIRS.intersection(path.relative_to(package).parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            match = VERSION_LITERAL.match(line)
            if match:
                found.append((path, number, match["version"], line))
    return found


def _package_findings(root: Path, name: str, settings: object, version: object) -> list[str]:
    where = f"{CONFIG}: {name}"
    package = root / name
    if not isinstance(settings, dict):
        return [f"{where}: expected an object of settings"]
    if not (package / "pyproject.toml").is_file():
        return [f"{where}: no pyproject.toml in {name}/"]
    errors: list[str] = []
    if settings.get("release-type") != "python":
        errors.append(f"{where}: release-type is {settings.get('release-type')!r}; a pyproject package needs 'python'")
    declared = _pyproject_version(package)
    if declared != version:
        errors.append(f"{name}/pyproject.toml: version {declared!r}, but {MANIFEST} says {version!r}")
    extra = settings.get("extra-files", [])
    listed = {str(e) for e in extra} if isinstance(extra, list) else set()
    for entry in sorted(listed):
        target = package / entry
        if not target.is_file():
            errors.append(f"{where}: extra-files names {entry}, which does not exist")
        elif MARKER not in target.read_text(encoding="utf-8", errors="replace"):
            errors.append(f"{where}: extra-files names {entry}, which has no {MARKER} marker to bump")
    for path, number, found, line in _literals(package):
        rel = path.relative_to(package).as_posix()
        place = f"{name}/{rel}:{number}"
        if rel not in listed or MARKER not in line:
            errors.append(
                f"{place}: __version__ = {found!r} is written by hand and release-please will not bump it; "
                f"read it with importlib.metadata.version(), or mark the line `# {MARKER}` and list {rel} in "
                "extra-files"
            )
        elif found != version:
            errors.append(f"{place}: __version__ = {found!r}, but {MANIFEST} says {version!r}")
    return errors


def release_findings(root: Path) -> tuple[list[str], int]:
    """Errors, and how many released packages were checked."""
    errors: list[str] = []
    for required in (CONFIG, MANIFEST):
        if not (root / required).is_file():
            errors.append(f"{required}: missing (release-please needs both {CONFIG} and {MANIFEST})")
    if errors:
        return errors, 0
    config = _json_object(root / CONFIG, root, errors)
    manifest = _json_object(root / MANIFEST, root, errors)
    packages = config.get("packages", {})
    if not isinstance(packages, dict) or not packages:
        return [*errors, f"{CONFIG}: no packages"], 0
    for name in sorted(set(manifest) - set(packages)):
        errors.append(f"{MANIFEST}: {name} is not a package in {CONFIG}")
    for name, settings in packages.items():
        if name not in manifest:
            errors.append(f"{MANIFEST}: no version for {name}, which {CONFIG} releases")
            continue
        errors.extend(_package_findings(root, name, settings, manifest[name]))
    return errors, len(packages)
