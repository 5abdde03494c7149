"""The `checkov` check: checkov's Kubernetes checks over the rendered tree, with a skip list that gives reasons.

checkov 3.3.30 pins boto3==1.35.49 and our constraints.txt pins boto3 1.44.8, so it cannot live in .venv: it gets
its own venv, tools/fleet/checkov/.venv (gitignored), made on first use from tools/fleet/checkov/requirements.txt
(every package pinned) and remade when that file changes. Skips live in k8s/.checkov.yaml:

    skip:
      - id: CKV_K8S_43
        reason: why this check does not apply to the platform

A skip without a reason is an error, so no check is silenced quietly. Per-object skips use checkov's own
annotation on the object (checkov.io/skip1: CKV_K8S_40=reason).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

import fleet
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.render import render_all
from fleet.validate.tools import MIN_REASON

CHECKOV_DIR = Path(fleet.__file__).resolve().parents[2] / "checkov"  # tools/fleet/checkov
REQUIREMENTS = CHECKOV_DIR / "requirements.txt"
VENV = CHECKOV_DIR / ".venv"
SKIPS = Path("k8s/.checkov.yaml")
ANNOTATION = "a checkov.io/skip1 annotation on the object"
CHECK_ID = re.compile(r"^CKV2?_K8S_\d+$")
INSTALL_TIMEOUT_S = 900  # about a minute from PyPI; generous for a slow mirror
RUN_TIMEOUT_S = 600


def ensure_checkov() -> tuple[Path | None, str | None]:
    """The checkov executable, installing its venv first when missing or older than requirements.txt."""
    binary, marker = VENV / "bin" / "checkov", VENV / ".fleet-installed"
    if binary.exists() and marker.exists() and marker.stat().st_mtime >= REQUIREMENTS.stat().st_mtime:
        return binary, None
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
    ]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            return None, f"installing checkov ({' '.join(step[-3:])}) failed: {proc.stderr.strip()[-500:]}"
    marker.touch()
    return binary, None


def load_reasoned_skips(
    root: Path, rel: Path, id_pattern: re.Pattern[str], what: str = "a checkov check id"
) -> tuple[dict[str, str], list[str]]:
    """check id -> reason from a `skip: [{id, reason}]` file (k8s/.checkov.yaml, infrastructure/.checkov.yaml),
    and the problems with it; a missing file has none."""
    path = root / rel
    if not path.is_file():
        return {}, []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return {}, [f"{rel}: cannot parse: {str(exc).splitlines()[0]}"]
    entries = data.get("skip", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return {}, [f"{rel}: expected a mapping with a `skip` list"]
    skips: dict[str, str] = {}
    problems: list[str] = []
    for i, entry in enumerate(entries):
        entry = entry if isinstance(entry, dict) else {}
        check_id, reason = str(entry.get("id", "")), str(entry.get("reason") or "").strip()
        if not id_pattern.match(check_id):
            problems.append(f"{rel}: skip[{i}]: id {check_id!r} is not {what}")
        elif len(reason) < MIN_REASON:
            problems.append(f"{rel}: skip[{i}] {check_id}: needs a written reason")
        else:
            skips[check_id] = reason
    return skips, problems


def load_skips(root: Path) -> tuple[dict[str, str], list[str]]:
    """check id -> reason from k8s/.checkov.yaml, and the problems with the file."""
    return load_reasoned_skips(root, SKIPS, CHECK_ID, "a checkov Kubernetes check (CKV_K8S_n)")


def _reports(stdout: str) -> list[dict[str, Any]]:
    data = json.loads(stdout) if stdout.strip() else []
    return [r for r in (data if isinstance(data, list) else [data]) if isinstance(r, dict)]


class CheckovCheck(Check):
    name = "checkov"
    description = "checkov 3.3.30's Kubernetes checks on the rendered tree; skips in k8s/.checkov.yaml need reasons"

    def run(self, ctx: Context) -> CheckResult:
        rendered = [r for r in render_all(ctx.root) if r.objects]
        skips, errors = load_skips(ctx.root)
        if not rendered:
            return CheckResult.from_findings(self.name, "no rendered objects", errors, [], 0)
        binary, problem = ensure_checkov()
        if binary is None:
            return CheckResult.from_findings(self.name, "checkov not available", [*errors, str(problem)], [], 0)
        failures: dict[tuple[str, str], list[str]] = {}
        passed = 0
        with tempfile.TemporaryDirectory(prefix="fleet-checkov-") as tmp:
            labels: dict[str, str] = {}
            for n, result in enumerate(rendered):
                name = f"target-{n:02d}.yaml"  # one file per target; the label says which
                labels[name] = result.target.label
                text = yaml.safe_dump_all([o.doc for o in result.objects], sort_keys=False)
                (Path(tmp) / name).write_text(text, encoding="utf-8")
            args = [str(binary), "-d", tmp, "--framework", "kubernetes", "-o", "json", "--compact"]
            args += ["--skip-download", *([f"--skip-check={','.join(sorted(skips))}"] if skips else [])]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
            try:
                reports = _reports(proc.stdout)
            except json.JSONDecodeError:
                tail = (proc.stderr or proc.stdout).strip()[-500:]
                return CheckResult.from_findings(self.name, "checkov failed", [*errors, tail], [], 0)
            for report in reports:
                results = report.get("results") or {}
                passed += len(results.get("passed_checks") or [])
                for failed in results.get("failed_checks") or []:
                    key = (str(failed.get("check_id")), f"{failed.get('resource')}: {failed.get('check_name')}")
                    label = labels.get(Path(str(failed.get("file_path", ""))).name, "?")
                    failures.setdefault(key, []).append(label)
        for (check_id, what), where in sorted(failures.items()):
            targets = ", ".join(sorted(set(where)))
            errors.append(f"{check_id} {what} (in {targets}); fix it or skip it with a reason: {SKIPS} or {ANNOTATION}")
        summary = f"{passed} passed, {len(failures)} failed, {len(skips)} skipped by {SKIPS}"
        return CheckResult.from_findings(self.name, summary, errors, [], passed + len(failures))
