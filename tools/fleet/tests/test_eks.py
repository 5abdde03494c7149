"""`fleet eks status`: support phases, deadlines, exit codes, and reading the version from Terraform."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fleet import exits
from fleet.eks import app
from fleet.eks.calendar import BadVersion, load_calendar, normalise, status
from fleet.eks.terraform import TerraformError, read_eks_config
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture(autouse=True)
def packaged_calendar_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A refreshed calendar in the developer's home must not change these results."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("FLEET_EKS_CALENDAR", raising=False)


def flat(text: str) -> str:
    """Rich wraps stderr at the terminal width; compare messages with whitespace collapsed."""
    return " ".join(text.split())


TODAY = "2026-11-26"


def run(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["status", *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def test_1_32_today_is_in_extended_support() -> None:
    code, data = run("--version", "1.32", "--date", TODAY)
    assert code == 1
    assert data["support"] == "extended"
    assert data["paying_extended_now"] is True
    assert data["next_deadline"] == "2027-03-23"
    assert data["days_left"] == 117
    assert data["extended_support_extra_usd_per_month"] == 365.0  # $0.50/h x 730 h
    assert data["recommended_version"] == "1.35"
    assert data["upgrade_path"] == ["1.33", "1.34", "1.35"]


def test_1_34_is_inside_the_warning_window() -> None:
    code, data = run("--version", "1.34", "--date", TODAY)
    assert code == exits.DEADLINE == 4
    assert data["support"] == "standard"
    assert data["days_left"] == 6
    assert data["next_deadline"] == "2026-12-02"
    code, _ = run("--version", "1.34", "--date", TODAY, "--warn-days", "5")
    assert code == 0


def test_1_35_is_fine_and_versions_normalise() -> None:
    code, data = run("--version", "v1.35.2", "--date", TODAY)
    assert code == 0
    assert data["version"] == "1.35"
    assert data["days_left"] == 121
    assert data["upgrade_path"] == []


def test_extended_billing_starts_on_the_end_of_standard_date() -> None:
    calendar = load_calendar()
    assert status(calendar, "1.32", date(2026, 3, 22)).phase == "standard"
    assert status(calendar, "1.32", date(2026, 3, 22)).days_left == 1
    assert status(calendar, "1.32", date(2026, 3, 23)).phase == "extended"
    assert status(calendar, "1.32", date(2027, 3, 23)).phase == "unsupported"


def test_past_extended_exits_past_support_and_a_missing_old_version_is_bad_input() -> None:
    code, data = run("--version", "1.29", "--date", TODAY)
    assert code == exits.PAST_SUPPORT
    assert data["support"] == "unsupported"
    code, data = run("--version", "1.28", "--date", TODAY)
    assert code == exits.BAD_INPUT
    assert data["support"] == "unknown"
    assert "not in the calendar" in data["message"]


@pytest.mark.parametrize("version", ["1.36", "1.40", "v1.36.1"])
def test_a_version_newer_than_the_calendar_is_newer_not_unsupported(version: str) -> None:
    code, data = run("--version", version, "--date", TODAY)
    assert code == exits.OK
    assert data["support"] == "newer"
    assert data["calendar_newest_version"] == "1.35"
    assert data["recommended_version"] == normalise(version), "never a downgrade to the calendar's newest"
    assert data["upgrade_path"] == []
    assert data["next_deadline"] is None
    assert "newer than the calendar knows (newest: 1.35)" in data["message"]


def test_the_recommendation_is_never_lower_than_the_current_version() -> None:
    calendar = load_calendar()
    # On 2026-01-01 1.35 was not released on EKS yet, so the target alone would be 1.34: a downgrade for 1.35.
    assert status(calendar, "1.35", date(2026, 1, 1)).recommended == "1.35"
    for version in calendar.ordered():
        for day in (date(2025, 1, 1), date(2026, 11, 26), date(2028, 6, 1)):
            assert tuple(map(int, status(calendar, version, day).recommended.split("."))) >= tuple(
                map(int, version.split("."))
            )


def test_recommendation_skips_unreleased_versions() -> None:
    # 1.35 reached EKS on 2026-01-28; before that the newest version in standard support was 1.34.
    assert status(load_calendar(), "1.31", date(2026, 1, 1)).recommended == "1.34"


def test_own_calendar_and_invalid_calendar(tmp_path: Path) -> None:
    own = tmp_path / "cal.yaml"
    own.write_text(
        'versions:\n  "1.35": {end_of_standard: 2027-03-27, end_of_extended: 2028-03-27}\n'
        '  "1.36": {end_of_standard: 2027-07-28, end_of_extended: 2028-07-28}\n'
    )
    code, data = run("--version", "1.35", "--date", TODAY, "--calendar", str(own))
    assert code == 0
    assert data["recommended_version"] == "1.36"
    own.write_text('versions:\n  "1.36": {end_of_standard: 2027-07-28, end_of_extended: 2026-07-28}\n')
    result = runner.invoke(app, ["status", "--version", "1.36", "--calendar", str(own)])
    assert result.exit_code == exits.BAD_INPUT
    assert "1.36" in flat(result.stderr)
    assert "end_of_extended must be after end_of_standard" in flat(result.stderr)


def test_bad_input_exits_3() -> None:
    assert runner.invoke(app, ["status"]).exit_code == exits.BAD_INPUT
    assert runner.invoke(app, ["status", "--version", "1.32", "--date", "26/11/2026"]).exit_code == exits.BAD_INPUT


def test_one_day_left_is_one_day_not_one_days() -> None:
    _, standard = run("--version", "1.32", "--date", "2026-03-22")
    assert "leaves standard support on 2026-03-23, in 1 day;" in standard["message"]
    _, extended = run("--version", "1.32", "--date", "2027-03-22")
    assert "Extended support ends 2027-03-23 (1 day);" in extended["message"]
    _, quiet = run("--version", "1.35", "--date", "2027-03-26", "--warn-days", "0")
    assert quiet["message"] == "EKS 1.35 is in standard support until 2027-03-27 (1 day)."
    for data in (standard, extended, quiet):
        assert "1 days" not in data["message"]
    _, two = run("--version", "1.32", "--date", "2026-03-21")
    assert "in 2 days;" in two["message"]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-02-30", "February 2026 has 28 days"),
        ("2026-04-31", "April 2026 has 30 days"),
        ("2028-02-30", "February 2028 has 29 days"),
        ("2026-02-00", "February 2026 has 28 days"),
        ("2026-13-01", "there is no month 13"),
    ],
)
def test_a_date_in_the_right_form_that_does_not_exist_says_so(value: str, why: str) -> None:
    result = runner.invoke(app, ["status", "--version", "1.32", "--date", value])
    assert result.exit_code == exits.BAD_INPUT
    message = flat(result.stderr)
    assert f"--date '{value}': not a calendar date ({why})" in message
    assert "expected YYYY-MM-DD" not in message, "the value is in that form; the day is what is wrong"


def test_dates_that_exist_or_are_in_another_form() -> None:
    code, data = run("--version", "1.32", "--date", "2028-02-29")  # a leap day
    assert (code, data["date"]) == (exits.PAST_SUPPORT, "2028-02-29")
    for value in ("26/11/2026", "2026-11-26T00:00", "20261126", "2026-W48-4"):
        result = runner.invoke(app, ["status", "--version", "1.32", "--date", value])
        assert result.exit_code == exits.BAD_INPUT
        assert f"--date {value!r}: expected YYYY-MM-DD" in flat(result.stderr)


@pytest.mark.parametrize("version", ["abc", "1", "1.32x", "one.two", ""])
def test_a_version_that_is_not_a_version_is_bad_input_naming_the_flag(version: str) -> None:
    result = runner.invoke(app, ["status", "--version", version, "--date", TODAY])
    assert result.exit_code == exits.BAD_INPUT
    assert f"--version: {version!r} is not a Kubernetes version" in flat(result.stderr)
    with pytest.raises(BadVersion):
        normalise(version)


def test_a_wrong_flag_is_a_usage_error_distinct_from_a_deadline() -> None:
    result = runner.invoke(app, ["status", "--version", "1.35", "--warn-dayz", "5"])
    assert result.exit_code == exits.USAGE == 2
    deadline, _ = run("--version", "1.34", "--date", TODAY)
    assert deadline == exits.DEADLINE != exits.USAGE


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    return directory


MODULE = """
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.0"
  name               = "staging"
  kubernetes_version = %s
}
"""


def test_terraform_literal_and_variable_default(tmp_path: Path) -> None:
    literal = write(tmp_path / "a", "main.tf", MODULE % '"1.32"')
    assert read_eks_config(literal).version == "1.32"
    via_var = write(tmp_path / "b", "main.tf", MODULE % "var.kubernetes_version")
    write(via_var, "variables.tf", 'variable "kubernetes_version" {\n  type = string\n  default = "1.34"\n}\n')
    config = read_eks_config(via_var)
    assert config.version == "1.34"
    assert config.upgrade_policy == "EXTENDED"  # nothing set: AWS's default
    assert 'module "eks"' in config.where
    write(via_var, "terraform.tfvars", 'kubernetes_version = "1.35"\n')
    assert read_eks_config(via_var).version == "1.35"  # tfvars beat the default, as in Terraform


def test_terraform_older_module_and_plain_resource(tmp_path: Path) -> None:
    v20 = write(tmp_path / "a", "eks.tf", 'module "cluster" {\n  source = "terraform-aws-modules/eks/aws"\n'
                                         '  cluster_version = local.k8s\n}\nlocals {\n  k8s = "1.33"\n}\n')  # fmt: skip
    assert read_eks_config(v20).version == "1.33"
    resource = write(
        tmp_path / "b", "main.tf",
        'resource "aws_eks_cluster" "this" {\n  name = "x"\n  version = "1.35"\n'
        '  upgrade_policy {\n    support_type = "STANDARD"\n  }\n}\n',
    )  # fmt: skip
    config = read_eks_config(resource)
    assert (config.version, config.upgrade_policy) == ("1.35", "STANDARD")


def test_terraform_errors(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match=r"no \*\.tf files"):
        read_eks_config(write(tmp_path / "empty", "README", "x"))
    with pytest.raises(TerraformError, match="no kubernetes_version or cluster_version set"):
        read_eks_config(write(tmp_path / "unpinned", "main.tf", 'module "eks" {\n  source = "x"\n}\n'))
    with pytest.raises(TerraformError, match="cannot resolve"):
        read_eks_config(write(tmp_path / "dangling", "main.tf", MODULE % "var.missing"))
    with pytest.raises(TerraformError, match="cannot parse HCL"):
        read_eks_config(write(tmp_path / "broken", "main.tf", "module {{{"))


def test_status_from_terraform(tmp_path: Path) -> None:
    staging = write(tmp_path / "staging", "main.tf", MODULE % '"1.32"')
    code, data = run("--from-terraform", str(staging), "--date", TODAY)
    assert code == 1
    assert data["version"] == "1.32"
    assert data["terraform"]["upgrade_policy"] == "EXTENDED"
    assert 'support_type = "STANDARD"' in data["message"]
    result = runner.invoke(app, ["status", "--from-terraform", str(staging), "--version", "1.35"])
    assert result.exit_code == exits.BAD_INPUT  # the two sources disagree
    result = runner.invoke(app, ["status", "--from-terraform", str(tmp_path / "nowhere")])
    assert result.exit_code == exits.BAD_INPUT
    garbled = write(tmp_path / "garbled", "main.tf", MODULE % '"latest"')
    result = runner.invoke(app, ["status", "--from-terraform", str(garbled)])
    assert result.exit_code == exits.BAD_INPUT
    assert "'latest' is not a Kubernetes version" in flat(result.stderr)


STANDARD_MODULE = MODULE.replace("}\n", '  upgrade_policy = {\n    support_type = "STANDARD"\n  }\n}\n')


def test_standard_policy_past_end_of_standard_reports_the_auto_upgrade_and_no_extended_cost(tmp_path: Path) -> None:
    tf = write(tmp_path / "std", "main.tf", STANDARD_MODULE % '"1.33"')
    code, data = run("--from-terraform", str(tf), "--date", TODAY)
    assert code == exits.PAST_SUPPORT
    assert data["upgrade_policy"] == data["terraform"]["upgrade_policy"] == "STANDARD"
    assert data["support"] == "auto-upgrade"
    assert data["auto_upgrade_date"] == "2026-07-29"  # 1.33's end of standard support
    assert data["paying_extended_now"] is False
    assert data["extended_support_extra_usd_per_month"] == 0.0
    assert "upgrades the control plane automatically at the end of standard support" in data["message"]
    assert "no extended-support cost" in data["message"]
    assert "$365" not in data["message"]
    assert "EXTENDED" not in data["message"]
    human = runner.invoke(app, ["status", "--from-terraform", str(tf), "--date", TODAY], env={"COLUMNS": "200"})
    assert human.exit_code == exits.PAST_SUPPORT
    assert "AUTO-UPGRADE" in human.stdout
    assert "$365" not in human.stdout


def test_standard_policy_before_the_deadline_says_aws_upgrades_then(tmp_path: Path) -> None:
    tf = write(tmp_path / "std", "main.tf", STANDARD_MODULE % '"1.34"')
    code, data = run("--from-terraform", str(tf), "--date", TODAY)
    assert code == exits.DEADLINE
    assert data["auto_upgrade_date"] == "2026-12-02"
    assert data["extended_support_extra_usd_per_month"] == 0.0
    assert "AWS upgrades it automatically (upgrade policy STANDARD)" in data["message"]
    # The same version without a policy is billed: the default is EXTENDED, auto-upgrade only a year later.
    code, data = run("--version", "1.34", "--date", TODAY)
    assert data["auto_upgrade_date"] == "2027-12-02"
    assert "$365.00/month more" in data["message"]


def test_plain_output() -> None:
    result = runner.invoke(app, ["status", "--version", "1.32", "--date", TODAY], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "EXTENDED" in result.stdout
    assert "$365.00/month" in result.stdout


def test_a_root_stack_is_followed_into_its_local_module_with_the_callers_arguments(tmp_path: Path) -> None:
    module = tmp_path / "modules" / "cluster"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(
        'variable "kubernetes_version" {\n  type    = string\n  default = "1.30"\n}\n'
        'module "eks" {\n  source             = "terraform-aws-modules/eks/aws"\n  version            = "21.19.0"\n'
        '  kubernetes_version = var.kubernetes_version\n  upgrade_policy     = { support_type = "STANDARD" }\n}\n',
        encoding="utf-8",
    )
    root = tmp_path / "staging"
    root.mkdir()
    (root / "main.tf").write_text(
        'variable "kubernetes_version" {\n  type    = string\n  default = "1.35"\n}\n'
        'module "cluster" {\n  source             = "../modules/cluster"\n'
        "  kubernetes_version = var.kubernetes_version\n}\n",
        encoding="utf-8",
    )
    cfg = read_eks_config(root)
    assert (cfg.version, cfg.upgrade_policy) == ("1.35", "STANDARD")  # the caller's 1.35, not the module's 1.30
    assert cfg.where == 'module "eks" in main.tf (through module "cluster" in staging)'
    (root / "main.tf").write_text('module "cluster" {\n  source = "../modules/cluster"\n}\n', encoding="utf-8")
    assert read_eks_config(root).version == "1.30"  # no argument: the module's own default
    assert read_eks_config(Path(__file__).parents[3] / "infrastructure" / "staging").upgrade_policy == "STANDARD"
