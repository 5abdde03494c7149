"""The workflow checks on the repository's own .github (all pass) and on a broken tree (each tool reports what it
should). actionlint and zizmor run twice each in this module: once per tree, in module-scoped fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fleet.validate.base import Check, CheckResult, Context, Status
from fleet.validate.workflows import (
    CHECKS,
    ActionlintCheck,
    DependabotCoverageCheck,
    WorkflowInvariantsCheck,
    ZizmorCheck,
    ignore_comment_findings,
)

REPO = Path(__file__).resolve().parents[3]
GOOD = Path(__file__).parent / "fixtures" / "workflows" / "good"

# Each problem is one line, so each finding below names one cause.
BROKEN_WORKFLOW = """\
name: broken
on:
  issues:
    types: [opened]
jobs:
  triage:
    runs-on: ubuntu-24.04
    timeout-minute: 5
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
      - run: echo $UNQUOTED
      - uses: actions/setup-node@v4 # zizmor: ignore[unpinned-uses]
"""


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken-workflows")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "broken.yml").write_text(BROKEN_WORKFLOW, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def repo_actionlint() -> CheckResult:
    return ActionlintCheck().run(Context(root=REPO))


@pytest.fixture(scope="module")
def repo_zizmor() -> CheckResult:
    return ZizmorCheck().run(Context(root=REPO))


@pytest.fixture(scope="module")
def broken_actionlint(broken_root: Path) -> CheckResult:
    return ActionlintCheck().run(Context(root=broken_root))


@pytest.fixture(scope="module")
def broken_zizmor(broken_root: Path) -> CheckResult:
    return ZizmorCheck().run(Context(root=broken_root))


def test_the_checks_are_listed_in_order() -> None:
    assert [c.name for c in (cls() for cls in CHECKS)] == [
        "actionlint",
        "zizmor",
        "workflow-invariants",
        "dependabot-coverage",
        "release-versions",
    ]


def test_repository_workflows_pass_actionlint(repo_actionlint: CheckResult) -> None:
    assert repo_actionlint.errors == []
    assert repo_actionlint.status == Status.PASS
    assert repo_actionlint.checked >= 9  # ci, platform, plan, apply, destroy, rebuild, eks watch, dora, release
    assert "no shellcheck" not in repo_actionlint.summary  # the scripts were linted, not skipped


def test_repository_workflows_pass_zizmor(repo_zizmor: CheckResult) -> None:
    assert repo_zizmor.errors == []
    assert repo_zizmor.status == Status.PASS
    assert repo_zizmor.summary.endswith(", 0 finding(s), 0 inline ignore(s)")


def test_repository_workflows_keep_the_invariants() -> None:
    result = WorkflowInvariantsCheck().run(Context(root=REPO))
    assert result.errors == []
    # plan (one matrix job), apply staging + production, destroy, rebuild
    assert result.summary.endswith(", 5 Terraform job(s)")


def test_repository_dependabot_covers_every_ecosystem_directory() -> None:
    result = DependabotCoverageCheck().run(Context(root=REPO))
    assert result.errors == []
    assert result.checked >= 7  # 2 pip packages + checkov, 2 npm, docker, actions (+ Terraform dirs once present)


def _has(errors: list[str], *parts: str) -> bool:
    """One finding holds every part (the place and the cause together)."""
    return any(all(part in e for part in parts) for e in errors)


def test_actionlint_reports_syntax_expression_and_shellcheck_findings(broken_actionlint: CheckResult) -> None:
    errors = broken_actionlint.errors
    assert broken_actionlint.status == Status.FAIL
    assert _has(errors, '.github/workflows/broken.yml:8:5: [syntax-check] unexpected key "timeout-minute"')
    assert _has(errors, "broken.yml:11:24: [expression]", "github.event.issue.title", "potentially untrusted")
    assert _has(errors, "broken.yml:12:", "[shellcheck]", "SC2086")


def test_zizmor_reports_injection_unpinned_and_persisted_credentials(broken_zizmor: CheckResult) -> None:
    errors = broken_zizmor.errors
    assert broken_zizmor.status == Status.FAIL
    assert _has(errors, ".github/workflows/broken.yml:11 (", "[template-injection, High]")
    assert _has(errors, ".github/workflows/broken.yml:10 (", "[unpinned-uses, High]")
    assert _has(errors, ".github/workflows/broken.yml:10 (", "[artipacked, Medium]")
    # the inline ignore silences setup-node's unpinned-uses, but has no reason, so it is an error of its own
    assert _has(errors, ".github/workflows/broken.yml:13: `zizmor: ignore[unpinned-uses]` needs a written reason")
    assert not _has(errors, ".github/workflows/broken.yml:13 (")


def test_ignore_with_a_reason_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text(
        "x: 1 # zizmor: ignore[artipacked] -- the job uploads no artifact and needs git push\n"
        "y: 2 # zizmor: ignore[excessive-permissions]: ok\n",
        encoding="utf-8",
    )
    errors, count = ignore_comment_findings(tmp_path, [path])
    assert count == 2
    assert errors == ["w.yml:2: `zizmor: ignore[excessive-permissions]` needs a written reason after it"]


@pytest.mark.parametrize("check", [cls() for cls in CHECKS], ids=lambda c: c.name)
def test_a_tree_without_workflows_is_nothing(tmp_path: Path, check: Check) -> None:
    assert check.run(Context(root=tmp_path)).status == Status.NOTHING


def test_dependabot_good_fixture_passes() -> None:
    result = DependabotCoverageCheck().run(Context(root=GOOD))
    assert result.errors == []
    assert result.checked == 2  # pip /app and github-actions /


def test_dependabot_misses_a_new_package_json(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    (root / "web").mkdir()
    (root / "web" / "package.json").write_text("{}", encoding="utf-8")
    (root / "app" / "tests").mkdir()
    (root / "app" / "tests" / "package.json").write_text("{}", encoding="utf-8")  # test data: not shipped
    (root / "infra" / "stack").mkdir(parents=True)
    (root / "infra" / "stack" / "main.tf").write_text("", encoding="utf-8")
    errors = DependabotCoverageCheck().run(Context(root=root)).errors
    assert errors == [
        ".github/dependabot.yml: no `terraform` entry covers /infra/stack",
        ".github/dependabot.yml: no `npm` entry covers /web",
    ]


def test_dependabot_file_missing_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    (root / ".github" / "dependabot.yml").unlink()
    assert DependabotCoverageCheck().run(Context(root=root)).errors == [".github/dependabot.yml: missing"]
