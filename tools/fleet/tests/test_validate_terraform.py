"""terraform-invariants and terraform-module-inputs: the GOOD fixture stack passes, and each broken variant (the
good stack copied to tmp_path with one edit) fails with exactly the error of the rule it breaks.

The EKS calendar is the packaged one and the date is fixed, so "in extended support on 2026-12-02" holds every day.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from fleet.eks.calendar import load_calendar
from fleet.terraform_hcl import load_tree
from fleet.validate.base import Context, Status
from fleet.validate.terraform import TerraformInvariantsCheck, invariant_findings
from fleet.validate.terraform_inputs import load_inputs, module_input_findings

FIXTURES = Path(__file__).parent / "fixtures" / "terraform"
GOOD = FIXTURES / "good"
INPUTS = FIXTURES / "module-inputs.yaml"
TODAY = date(2026, 12, 2)  # the day 1.34 leaves standard support
CLUSTER = "infrastructure/modules/cluster/main.tf"
CLUSTER_VARS = "infrastructure/modules/cluster/variables.tf"
STAGING = "infrastructure/staging/main.tf"
STAGING_VARS = "infrastructure/staging/variables.tf"
STAGING_VERSIONS = "infrastructure/staging/versions.tf"
LB_POLICY = "infrastructure/modules/cluster/policies/aws-load-balancer-controller.json"
EKS = f'module "eks" in {CLUSTER}'
VERSION_VIA = (
    f"{EKS} kubernetes_version <- var.kubernetes_version in infrastructure/modules/cluster <- passed by "
    f'module "cluster" in {STAGING} <- var.kubernetes_version in infrastructure/staging <- its default'
)

HEREDOC_AND_LOCALS = """
resource "aws_iam_policy" "heredoc" {
  name   = "heredoc"
  policy = <<-EOT
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]}
  EOT
}

locals {
  read_actions  = ["iam:GetRole"]
  write_actions = concat(local.read_actions, ["iam:CreateRole", "iam:AttachRolePolicy"])
}

data "aws_iam_policy_document" "traced" {
  statement {
    actions   = local.write_actions
    resources = ["*"]
  }
}
"""


def broken_copy(tmp_path: Path, *edits: tuple[str, str, str]) -> Path:
    """The good stack in tmp_path with each (file, old, new) applied; `old` must occur exactly once."""
    root = tmp_path / "repo"
    shutil.copytree(GOOD, root)
    for rel, old, new in edits:
        text = (root / rel).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not exactly once in {rel}"
        (root / rel).write_text(text.replace(old, new), encoding="utf-8")
    return root


def invariants(root: Path, on: date = TODAY) -> list[str]:
    errors, warnings, _ = invariant_findings(load_tree(root), load_calendar(), on)
    assert warnings == []
    return errors


def test_the_good_stack_passes_every_invariant_and_reads_its_policies() -> None:
    errors, warnings, policies = invariant_findings(load_tree(GOOD), load_calendar(), TODAY)
    assert (errors, warnings) == ([], [])
    assert policies == 4  # 3 statements in HCL (document, jsonencode trust and PassRole) + 1 policy file


BROKEN = {
    "service wildcard action": (
        (CLUSTER, '"logs:DescribeLogStreams"', '"logs:*"'),
        f'data "aws_iam_policy_document" "fluent_bit" in {CLUSTER}: statement WriteLogs: Action "logs:*" grants '
        "every logs action; list the actions",
    ),
    "star action in jsonencode": (
        (CLUSTER, '["iam:PassRole"]', '["*"]'),
        f'resource "aws_iam_role_policy" "pass_node_role" in {CLUSTER}: statement: Action "*" grants every action; '
        "list the actions",
    ),
    "PassRole on Resource *": (
        (
            CLUSTER,
            'Resource = "arn:aws:iam::111122223333:role/KarpenterNodeRole-${var.cluster_name}"',
            'Resource = "*"',
        ),
        f'resource "aws_iam_role_policy" "pass_node_role" in {CLUSTER}: statement: IAM write action(s) iam:PassRole '
        'on Resource "*"; scope them to named ARNs (a role that may create roles, attach policies or pass any role '
        "can make itself admin)",
    ),
    "iam:* in a committed policy file": (
        (LB_POLICY, '"iam:CreateServiceLinkedRole"', '"iam:*"'),
        f'{LB_POLICY}: statement: Action "iam:*" grants every iam action; list the actions',
    ),
    "Allow with NotAction": (
        (CLUSTER, 'sid       = "WriteLogs"\n    actions', 'sid       = "WriteLogs"\n    not_actions'),
        f'data "aws_iam_policy_document" "fluent_bit" in {CLUSTER}: statement WriteLogs: Allow with not_actions grants '
        "everything not listed; list what is allowed instead",
    ),
    "module version range": (
        (CLUSTER, 'version = "21.19.0"', 'version = "~> 21.0"'),
        f'{EKS}: version "~> 21.0" is a range; pin an exact version = "X.Y.Z"',
    ),
    "module without version": (
        (CLUSTER, '  version = "21.19.0"\n', ""),
        f'{EKS}: registry module terraform-aws-modules/eks/aws has no version; pin an exact version = "X.Y.Z"',
    ),
    "git source on a tag": (
        (
            STAGING,
            'module "cluster" {',
            'module "tags" {\n  source = "git::https://github.com/example/tags.git?ref=v1.0.0"\n}\n\n'
            'module "cluster" {',
        ),
        f"module \"tags\" in {STAGING}: git source 'git::https://github.com/example/tags.git?ref=v1.0.0' needs "
        "?ref=<40-hex commit SHA>",
    ),
    "open endpoint": (
        (CLUSTER, "endpoint_public_access_cidrs = var.admin_cidrs", 'endpoint_public_access_cidrs = ["0.0.0.0/0"]'),
        f"{EKS} endpoint_public_access_cidrs: ['0.0.0.0/0'] opens the API endpoint to the world",
    ),
    "public endpoint without a CIDR list": (
        (CLUSTER, "  endpoint_public_access_cidrs = var.admin_cidrs\n", ""),
        f"{EKS}: public endpoint access without endpoint_public_access_cidrs (0.0.0.0/0)",
    ),
    "missing upgrade_policy": (
        (CLUSTER, '  upgrade_policy = {\n    support_type = "STANDARD"\n  }\n', ""),
        f'{EKS}: upgrade_policy = {{ support_type = "STANDARD" }} is required (got none); without it AWS bills '
        "extended support at 6x instead of upgrading",
    ),
    "no spot node group": (
        (CLUSTER, 'capacity_type  = "SPOT"', 'capacity_type  = "ON_DEMAND"'),
        f'{EKS}: no eks_managed_node_groups entry with capacity_type = "SPOT"',
    ),
    "IMDSv1 allowed": (
        (CLUSTER, 'http_tokens                 = "required"', 'http_tokens                 = "optional"'),
        f"{EKS}: metadata_options.http_tokens ['optional'] is not \"required\" (IMDSv2)",
    ),
    "variable without type": (
        (CLUSTER_VARS, '  type        = string\n  description = "VPC the cluster runs in."', '  description = "VPC."'),
        f'variable "vpc_id" in {CLUSTER_VARS}: no type',
    ),
    "variable without validation": (
        (
            STAGING_VARS,
            "  validation {\n    condition     = can(regex",
            "  xvalidation {\n    condition     = can(regex",
        ),
        f'variable "kubernetes_version" in {STAGING_VARS}: no validation block '
        "(every variable but a bool is validated)",
    ),
    "missing cost allocation tag": (
        (STAGING_VERSIONS, '    CostCenter  = "platform"\n', ""),
        f'provider "aws" in {STAGING_VERSIONS}: default_tags.tags lacks the cost allocation tag(s) CostCenter',
    ),
    "backend without native locking": (
        (STAGING_VERSIONS, "    use_lockfile = true\n", ""),
        f'terraform in {STAGING_VERSIONS}: backend "s3" needs encrypt = true and use_lockfile = true',
    ),
    "root stack without an aws provider": (
        (STAGING_VERSIONS, 'provider "aws" {', 'provider "google" {'),
        'infrastructure/staging: a root stack without a provider "aws" block (its default_tags carry the cost tags)',
    ),
    "unreadable IAM actions": (
        (CLUSTER, '["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]', "local.log_actions"),
        f'data "aws_iam_policy_document" "fluent_bit" in {CLUSTER}: statement WriteLogs: cannot read '
        "${local.log_actions} to check it (an unread IAM action or resource is no pass)",
    ),
    "no required_version": (
        (STAGING_VERSIONS, '  required_version = ">= 1.10, < 2.0"\n', ""),
        "infrastructure/staging: no terraform { required_version }",
    ),
    "provider without a version": (
        (STAGING_VERSIONS, '      version = "~> 6.0"\n', ""),
        f"terraform in {STAGING_VERSIONS}: required_providers.aws has no version constraint",
    ),
    "policy fetched over http": (
        (
            CLUSTER,
            'policy = file("${path.module}/policies/aws-load-balancer-controller.json")',
            "policy = data.http.lb.body",
        ),
        f"{LB_POLICY}: not read by any file()/templatefile() call",
    ),
    "unresolvable version": (
        (STAGING, "kubernetes_version = var.kubernetes_version", "kubernetes_version = data.aws_eks_x.y.version"),
        f"{EKS} kubernetes_version <- var.kubernetes_version in infrastructure/modules/cluster <- passed by module "
        f"\"cluster\" in {STAGING}: cannot resolve '${{data.aws_eks_x.y.version}}' to a version (an unresolved value "
        "is no pass)",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_variant_fails_exactly_its_rule(tmp_path: Path, case: str) -> None:
    edit, expected = BROKEN[case]
    assert invariants(broken_copy(tmp_path, edit)) == [expected]


def test_a_data_http_block_fails_wherever_it_is(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    with (root / CLUSTER).open("a", encoding="utf-8") as handle:
        handle.write('\ndata "http" "lb_policy" {\n  url = "https://raw.githubusercontent.com/x/y/main/p.json"\n}\n')
    assert invariants(root) == [
        f'data "http" "lb_policy" in {CLUSTER}: data "http" fetches at plan time; '
        "commit the file and read it with file()"
    ]


def test_a_heredoc_policy_is_read_and_a_local_list_of_actions_is_traced(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    with (root / CLUSTER).open("a", encoding="utf-8") as handle:
        handle.write(HEREDOC_AND_LOCALS)
    assert sorted(invariants(root)) == [
        f'data "aws_iam_policy_document" "traced" in {CLUSTER}: statement: IAM write action(s) iam:AttachRolePolicy, '
        'iam:CreateRole on Resource "*"; scope them to named ARNs (a role that may create roles, attach policies or '
        "pass any role can make itself admin)",
        f'resource "aws_iam_policy" "heredoc" in {CLUSTER}: statement: Action "s3:*" grants every s3 action; '
        "list the actions",
    ]


def test_iam_actions_are_traced_through_a_module_call_into_the_callers_locals(tmp_path: Path) -> None:
    extra = (
        'variable "extra_actions" {\n  type        = list(string)\n  description = "More actions."\n'
        '  validation {\n    condition     = length(var.extra_actions) < 5\n    error_message = "Few."\n  }\n}\n'
    )
    root = broken_copy(
        tmp_path,
        (CLUSTER_VARS, 'variable "vpc_id" {', extra + '\nvariable "vpc_id" {'),
        (CLUSTER, '"logs:DescribeLogStreams"]', '"logs:DescribeLogStreams"], var.extra_actions)'),
        (CLUSTER, 'actions   = ["logs:CreateLogStream"', 'actions   = concat(["logs:CreateLogStream"'),
        (
            STAGING,
            '  source = "../modules/cluster"\n',
            '  source = "../modules/cluster"\n  extra_actions = concat(local.more, [])\n',
        ),
        (STAGING_VARS, 'variable "admin_cidrs" {', 'locals {\n  more = ["iam:*"]\n}\n\nvariable "admin_cidrs" {'),
    )
    assert invariants(root) == [
        f'data "aws_iam_policy_document" "fluent_bit" in {CLUSTER}: statement WriteLogs: Action "iam:*" grants '
        "every iam action; list the actions"
    ]


def test_a_policy_the_check_cannot_read_fails_instead_of_passing(tmp_path: Path) -> None:
    statement = '[for a in ["s3:*"] : { Effect = "Allow", Action = a, Resource = "*" }]'
    policy = f'jsonencode({{ Version = "2012-10-17", Statement = {statement} }})'
    root = broken_copy(
        tmp_path, (CLUSTER, "policy = data.aws_iam_policy_document.fluent_bit.json", f"policy = {policy}")
    )
    assert invariants(root) == [
        f'resource "aws_iam_policy" "fluent_bit" in {CLUSTER}: cannot read the policy in Statement = '
        '${[for a in ["s3:*"] : {Effect = "Allow", Action = a, Resource = ... (an unread policy is no pass)'
    ]


def test_a_version_in_extended_support_names_the_day_it_left_standard(tmp_path: Path) -> None:
    root = broken_copy(tmp_path, (STAGING_VARS, 'default     = "1.35"', 'default     = "1.32"'))
    assert invariants(root) == [
        f"{VERSION_VIA}: Kubernetes 1.32 is older than the platform's minimum 1.35",
        f"{VERSION_VIA}: Kubernetes 1.32 is in extended support on 2026-12-02: it left standard support on "
        "2026-03-23 (extended support is billed at 6x); use 1.35",
    ]


def test_the_good_version_fails_on_the_day_it_leaves_standard_support() -> None:
    assert invariants(GOOD, on=date(2027, 3, 26)) == []
    assert invariants(GOOD, on=date(2027, 3, 27)) == [
        f"{VERSION_VIA}: Kubernetes 1.35 is in extended support on 2027-03-27: it left standard support on "
        "2027-03-27 (extended support is billed at 6x); use 1.35",
    ]


def test_a_default_on_admin_cidrs_fails_and_an_open_one_is_traced_to_the_endpoint(tmp_path: Path) -> None:
    edit = (STAGING_VARS, "  type        = list(string)\n", '  type        = list(string)\n  default = ["0.0.0.0/0"]\n')
    variable = f'variable "admin_cidrs" in {STAGING_VARS}'
    assert invariants(broken_copy(tmp_path, edit)) == [
        f"{variable}: must have no default (every stack names its admins' CIDRs)",
        f"{variable}: default ['0.0.0.0/0'] opens it to the world",
        f"{EKS} endpoint_public_access_cidrs <- var.admin_cidrs in infrastructure/modules/cluster <- passed by module "
        f"\"cluster\" in {STAGING} <- var.admin_cidrs in infrastructure/staging <- its default: ['0.0.0.0/0'] opens "
        "the API endpoint to the world",
    ]


def test_deny_statements_may_use_wildcards_and_star_resources(tmp_path: Path) -> None:
    first_allow = '{\n      "Effect": "Allow",\n      "Action": ["ec2'
    deny = '{"Effect": "Deny", "Action": ["iam:*"], "Resource": "*"},\n    ' + first_allow
    root = broken_copy(tmp_path, (LB_POLICY, first_allow, deny))
    assert invariants(root) == []


def test_the_invariants_check_is_nothing_without_infrastructure_and_uses_its_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # no refreshed user calendar: the packaged one
    monkeypatch.delenv("FLEET_EKS_CALENDAR", raising=False)
    assert TerraformInvariantsCheck().run(Context(tmp_path)).status == Status.NOTHING
    passed = TerraformInvariantsCheck().run(Context(GOOD), today=TODAY)
    assert (passed.status, passed.checked) == (Status.PASS, 8)
    failed = TerraformInvariantsCheck().run(Context(GOOD), today=date(2027, 4, 1))
    assert failed.status == Status.FAIL
    assert "Kubernetes 1.35 is in extended support on 2027-04-01" in failed.errors[0]


def test_module_inputs_pass_on_the_good_stack() -> None:
    assert module_input_findings(load_tree(GOOD), INPUTS) == ([], 2)


def test_the_packaged_inputs_file_reads() -> None:
    recorded = load_inputs()
    eks = recorded.find("terraform-aws-modules/eks/aws", recorded.modules[0].version)
    assert eks is not None
    assert "kubernetes_version" in eks.inputs
    assert "cluster_version" not in eks.inputs  # renamed in v21: the mistake this check exists for


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            (CLUSTER, "  upgrade_policy = {", '  cluster_version = "1.35"\n  upgrade_policy = {'),
            [f"{EKS}: cluster_version is not an input of terraform-aws-modules/eks/aws 21.19.0"],
        ),
        (
            (CLUSTER, 'version = "21.19.0"', 'version = "21.18.0"'),
            [
                f"{EKS}: terraform-aws-modules/eks/aws 21.18.0 is not in terraform-module-inputs.yaml; record its "
                "inputs from that release's variables.tf"
            ],
        ),
        (
            (STAGING, '  vpc_id             = "vpc-0123456789abcdef0"', '  vpc_ids = "vpc-0123456789abcdef0"'),
            [
                f'module "cluster" in {STAGING}: vpc_ids is not a variable of infrastructure/modules/cluster',
                f'module "cluster" in {STAGING}: required input vpc_id of infrastructure/modules/cluster is not passed',
            ],
        ),
    ],
    ids=["argument not in pinned inputs", "pinned version not recorded", "local module argument"],
)
def test_module_inputs_fail_naming_the_argument(
    tmp_path: Path, edit: tuple[str, str, str], expected: list[str]
) -> None:
    assert module_input_findings(load_tree(broken_copy(tmp_path, edit)), INPUTS)[0] == expected
