"""checkov's Terraform framework over infrastructure/, run once, with skips that must give reasons.

Skips live in infrastructure/.checkov.yaml (`skip: [{id, reason}]`, the shape of k8s/.checkov.yaml) or inline as
`#checkov:skip=CKV_AWS_N:reason`; an inline skip without a reason is an error, so nothing is silenced quietly.
External modules are not downloaded (no network here): checkov judges our own resources and module arguments.
The venv, the JSON report reading and the skip file's reading are checkovrun's; only the file and the ids differ.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from fleet.terraform_hcl import INFRA_DIR
from fleet.validate.checkovrun import RUN_TIMEOUT_S, _reports, ensure_checkov, load_reasoned_skips
from fleet.validate.tools import MIN_REASON

SKIPS = Path(INFRA_DIR) / ".checkov.yaml"
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
INLINE_SKIP = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]+)(?::([^\n]*))?")


def inline_skip_findings(root: Path, files: list[Path]) -> list[str]:
    errors: list[str] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for check_id, reason in INLINE_SKIP.findall(line):
                if len(reason.strip()) < MIN_REASON:
                    errors.append(f"{path.relative_to(root)}:{number}: #checkov:skip={check_id} needs a written reason")
    return errors


def checkov_terraform_findings(root: Path, files: list[Path]) -> tuple[str, list[str], int]:
    """(summary, errors, checks looked at) for checkov over root/infrastructure."""
    skips, errors = load_reasoned_skips(root, SKIPS, CHECK_ID)
    errors += inline_skip_findings(root, files)
    binary, problem = ensure_checkov()
    if binary is None:
        return "checkov not available", [*errors, str(problem)], 0
    with tempfile.TemporaryDirectory(prefix="fleet-checkov-tf-") as tmp:
        # checkov reads a .checkov.yaml in the scanned directory as its own config (`skip:` becomes an ambiguous
        # --skip option), so it scans a copy without ours; the skips go in as --skip-check instead.
        copy = Path(tmp) / INFRA_DIR
        shutil.copytree(root / INFRA_DIR, copy, ignore=shutil.ignore_patterns(".checkov.yaml", ".terraform"))
        args = [str(binary), "-d", str(copy), "--framework", "terraform", "-o", "json", "--compact", "--quiet"]
        args += ["--download-external-modules", "false"]
        args += [f"--skip-check={','.join(sorted(skips))}"] if skips else []
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # no call home for the check-id mapping (offline)
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False, env=env, cwd=tmp
        )
    try:
        reports = _reports(proc.stdout)
    except ValueError:  # json.JSONDecodeError: checkov printed something that is not its report
        reports = []
    if not reports:  # a usage error or a crash prints no report: that is a failure, not "0 failed"
        return "checkov failed", [*errors, f"checkov gave no report: {(proc.stderr or proc.stdout).strip()[-500:]}"], 0
    passed = failed = skipped = 0
    for report in reports:
        summary = report.get("summary") or {}
        passed += int(summary.get("passed", 0))
        skipped += int(summary.get("skipped", 0))
        for check in (report.get("results") or {}).get("failed_checks") or []:
            failed += 1
            lines = "-".join(str(n) for n in check.get("file_line_range") or [])
            where = f"{INFRA_DIR}{check.get('file_path')}:{lines}"
            errors.append(
                f"{check.get('check_id')} {check.get('resource')} ({where}): {check.get('check_name')}; fix it or skip "
                f"it with a reason in {SKIPS} or an inline #checkov:skip=ID:reason"
            )
    summary_text = f"{passed} passed, {failed} failed, {skipped} skipped ({len(skips)} id(s) in {SKIPS})"
    return summary_text, errors, passed + failed + skipped
