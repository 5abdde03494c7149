"""IAM size limits (terraform_policy_size.py): the repository's policies fit, and each kind of overrun is caught,
including a policy that reaches its role through a module variable or a committed JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from fleet.terraform_hcl import load_tree
from fleet.validate.terraform_policy_size import (
    INLINE_POLICIES_LIMIT,
    MANAGED_POLICY_LIMIT,
    UNKNOWN_REFERENCE_CHARS,
    policy_size_findings,
)

REPO = Path(__file__).resolve().parents[3]


def _actions(count: int) -> str:
    return ", ".join(f'"ec2:DescribeThing{i:04d}"' for i in range(count))


def _stack(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "infrastructure" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


MANAGED = """
locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::state-${data.aws_caller_identity.me.account_id}"
}
data "aws_iam_policy_document" "big" {
  statement {
    sid       = "Read"
    actions   = [%s]
    resources = [local.bucket_arn, "${aws_s3_bucket.other.arn}/*"]
  }
}
resource "aws_iam_policy" "big" {
  name   = "big"
  policy = data.aws_iam_policy_document.big.json
}
"""


def test_the_repository_fits_and_the_boundary_is_reported_near_its_limit() -> None:
    errors, warnings, sized = policy_size_findings(load_tree(REPO))
    assert errors == []
    assert sized == 10  # the boundary, 3 CI roles (trust + inline), 5 controller roles (trust + inline)
    boundary = [w for w in warnings if 'data "aws_iam_policy_document" "boundary"' in w]
    assert len(boundary) == 1
    assert "the managed policy from" in boundary[0]
    assert "of IAM's 6,144" in boundary[0]


def test_a_managed_policy_over_6144_characters_is_an_error_and_references_are_filled_in(tmp_path: Path) -> None:
    root = _stack(tmp_path, {"stack/main.tf": MANAGED % _actions(260)})
    errors, warnings, sized = policy_size_findings(load_tree(root))
    assert sized == 1
    assert warnings == []
    assert len(errors) == 1
    assert errors[0].startswith('resource "aws_iam_policy" "big" in infrastructure/stack/main.tf: the managed policy')
    assert "1 unknown reference(s) counted as 64" in errors[0]  # aws_s3_bucket.other.arn; the account id is known
    assert errors[0].endswith(f"IAM's limit is {MANAGED_POLICY_LIMIT:,}")
    chars = int(errors[0].split(" is ")[1].split(" characters")[0].replace(",", ""))
    # 260 actions of 21 characters, each quoted and followed by a comma (but the last), the resources, the envelope.
    resources = len('"arn:aws:s3:::state-123456789012"') + 1 + UNKNOWN_REFERENCE_CHARS + len('"/*"') + 2
    assert chars == 260 * 24 - 1 + 2 + resources + len(
        '{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":,"Resource":}]}'
    )


def test_near_the_limit_is_a_warning(tmp_path: Path) -> None:
    root = _stack(tmp_path, {"stack/main.tf": MANAGED % _actions(235)})
    errors, warnings, _ = policy_size_findings(load_tree(root))
    assert errors == []
    assert len(warnings) == 1
    assert "of IAM's 6,144" in warnings[0]


MODULE = """
variable "policy_json" {
  type = string
}
resource "aws_iam_role_policy" "this" {
  role   = "r"
  policy = var.policy_json
}
"""


def test_an_inline_policy_passed_through_a_module_is_sized_where_it_is_written(tmp_path: Path) -> None:
    caller = (
        'module "role" {\n  source      = "../modules/role"\n  policy_json = data.aws_iam_policy_document.p.json\n}\n'
        'data "aws_iam_policy_document" "p" {\n  statement {\n    actions   = [%s]\n    resources = ["*"]\n  }\n}\n'
    )
    root = _stack(tmp_path, {"modules/role/main.tf": MODULE, "stack/main.tf": caller % _actions(440)})
    errors, _, sized = policy_size_findings(load_tree(root))
    assert sized == 1
    assert len(errors) == 1
    assert (
        'resource "aws_iam_role_policy" "this" in infrastructure/modules/role/main.tf: the inline policy from data'
        in errors[0]
    )
    assert "in infrastructure/stack/main.tf" in errors[0]
    assert errors[0].endswith(f"IAM's limit is {INLINE_POLICIES_LIMIT:,}")


def test_a_committed_json_policy_file_is_measured_without_its_white_space(tmp_path: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": [f"ec2:Describe{i}" for i in range(700)], "Resource": "*"}],
    }
    caller = (
        'module "role" {\n  source      = "../modules/role"\n  policy_json = file("${path.module}/policy.json")\n}\n'
    )
    root = _stack(tmp_path, {"modules/role/main.tf": MODULE, "stack/main.tf": caller})
    (root / "infrastructure/stack/policy.json").write_text(json.dumps(policy, indent=4), encoding="utf-8")
    errors, _, _ = policy_size_findings(load_tree(root))
    compact = len(json.dumps(policy, separators=(",", ":")))
    assert compact > INLINE_POLICIES_LIMIT
    assert errors == [
        f'resource "aws_iam_role_policy" "this" in infrastructure/modules/role/main.tf: the inline policy from '
        f"infrastructure/stack/policy.json is {compact:,} characters; IAM's limit is {INLINE_POLICIES_LIMIT:,}"
    ]


TRUST = """
data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [%s]
    }
  }
}
resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}
"""


def test_a_trust_policy_has_its_own_2048_limit(tmp_path: Path) -> None:
    subjects = ", ".join(f'"repo:org/repo-{i:03d}:environment:production"' for i in range(50))
    errors, _, _ = policy_size_findings(load_tree(_stack(tmp_path, {"stack/main.tf": TRUST % subjects})))
    assert len(errors) == 1
    assert "the trust policy from" in errors[0]
    assert errors[0].endswith("IAM's limit is 2,048")
    few = ", ".join(f'"repo:org/repo-{i:03d}:environment:production"' for i in range(5))
    assert policy_size_findings(load_tree(_stack(tmp_path / "few", {"stack/main.tf": TRUST % few})))[0] == []
