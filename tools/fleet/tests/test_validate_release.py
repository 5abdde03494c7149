"""`release-versions`: the repository passes, and each way a version can fall behind a release is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet.validate.base import Context, Status
from fleet.validate.workflows import ReleaseVersionsCheck

REPO = Path(__file__).resolve().parents[3]
PYPROJECT = '[project]\nname = "app"\nversion = "{version}"\n'
METADATA_INIT = 'from importlib.metadata import version\n\n__version__ = version("app")\n'


def _repo(tmp_path: Path, version: str = "1.4.0", init: str = METADATA_INIT, **settings: object) -> Path:
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "release.yml").write_text("uses: googleapis/release-please-action@x\n")
    package = root / "apps" / "app"
    (package / "src" / "app").mkdir(parents=True)
    (package / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (package / "src" / "app" / "__init__.py").write_text(init)
    config = {"packages": {"apps/app": {"release-type": "python", **settings}}}
    (root / "release-please-config.json").write_text(json.dumps(config))
    (root / ".release-please-manifest.json").write_text(json.dumps({"apps/app": "1.4.0"}))
    return root


def _errors(root: Path) -> list[str]:
    return ReleaseVersionsCheck().run(Context(root=root)).errors


def test_the_repository_passes() -> None:
    result = ReleaseVersionsCheck().run(Context(root=REPO))
    assert result.errors == []
    assert result.checked == 2  # load-harness and fleet


def test_a_package_that_reads_importlib_metadata_passes(tmp_path: Path) -> None:
    result = ReleaseVersionsCheck().run(Context(root=_repo(tmp_path)))
    assert result.status == Status.PASS
    assert result.checked == 1


def test_a_hand_written_version_is_refused_naming_the_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, init='"""App."""\n\n__version__ = "1.4.0"\n')
    assert _errors(root) == [
        "apps/app/src/app/__init__.py:3: __version__ = '1.4.0' is written by hand and release-please will not bump "
        "it; read it with importlib.metadata.version(), or mark the line `# x-release-please-version` and list "
        "src/app/__init__.py in extra-files"
    ]


def test_a_marked_and_listed_literal_passes_until_it_disagrees(tmp_path: Path) -> None:
    marked = '__version__ = "1.4.0"  # x-release-please-version\n'
    root = _repo(tmp_path, init=marked, **{"extra-files": ["src/app/__init__.py"]})
    assert _errors(root) == []
    (root / "apps/app/src/app/__init__.py").write_text(marked.replace("1.4.0", "1.3.0"))
    assert _errors(root) == [
        "apps/app/src/app/__init__.py:1: __version__ = '1.3.0', but .release-please-manifest.json says '1.4.0'"
    ]


def test_pyproject_behind_the_manifest_is_refused(tmp_path: Path) -> None:
    assert _errors(_repo(tmp_path, version="1.3.0")) == [
        "apps/app/pyproject.toml: version '1.3.0', but .release-please-manifest.json says '1.4.0'"
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"release-type": "simple"}, "release-type is 'simple'; a pyproject package needs 'python'"),
        ({"extra-files": ["src/app/missing.py"]}, "extra-files names src/app/missing.py, which does not exist"),
        ({"extra-files": ["src/app/__init__.py"]}, "src/app/__init__.py, which has no x-release-please-version marker"),
    ],
)
def test_config_mistakes_are_named(tmp_path: Path, settings: dict[str, object], expected: str) -> None:
    errors = _errors(_repo(tmp_path, **settings))
    assert len(errors) == 1
    assert expected in errors[0]


def test_manifest_and_config_must_name_the_same_packages(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / ".release-please-manifest.json").write_text(json.dumps({"apps/other": "0.1.0"}))
    assert _errors(root) == [
        ".release-please-manifest.json: apps/other is not a package in release-please-config.json",
        ".release-please-manifest.json: no version for apps/app, which release-please-config.json releases",
    ]


def test_a_release_workflow_without_its_config_is_an_error(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "release-please-config.json").unlink()
    assert _errors(root) == [
        "release-please-config.json: missing (release-please needs both release-please-config.json and "
        ".release-please-manifest.json)"
    ]


def test_no_release_please_at_all_is_nothing_checked(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    result = ReleaseVersionsCheck().run(Context(root=root))
    assert result.status == Status.NOTHING
