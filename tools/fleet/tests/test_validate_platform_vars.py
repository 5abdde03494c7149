"""`cluster-vars-terraform`: cluster-vars.yaml and the Terraform stack name the same things.

The repository's own tree must pass; copies of it with one side changed must fail, naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fleet.validate.base import Context
from fleet.validate.platform_vars import ClusterVarsTerraformCheck

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "infrastructure", tmp_path / "infrastructure", ignore=shutil.ignore_patterns(".terraform"))
    for env in ("staging", "production"):
        target = tmp_path / "k8s" / "clusters" / env
        target.mkdir(parents=True)
        shutil.copy(REPO / "k8s" / "clusters" / env / "cluster-vars.yaml", target)
    return tmp_path


def run(root: Path) -> list[str]:
    result = ClusterVarsTerraformCheck().run(Context(root=root))
    assert result.checked > 0
    return result.errors


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_repository_agrees(tree: Path) -> None:
    assert run(tree) == []


STAGING_VARS = "k8s/clusters/staging/cluster-vars.yaml"
MODULE = "infrastructure/modules/cluster"
BROKEN = [
    (STAGING_VARS, "KARPENTER_NODE_ROLE: KarpenterNodeRole-", "KARPENTER_NODE_ROLE: K-", "KARPENTER_NODE_ROLE"),
    (STAGING_VARS.replace("staging", "production"), "CLUSTER_NAME: platform-", "CLUSTER_NAME: p-", "CLUSTER_NAME"),
    (STAGING_VARS, 'PREFIX_DELEGATION: "true"', 'PREFIX_DELEGATION: "false"', "VPC_CNI_PREFIX_DELEGATION"),
    (f"{MODULE}/main.tf", 'PREFIX_DELEGATION = "true"', 'PREFIX_DELEGATION = "false"', "VPC_CNI_PREFIX_DELEGATION"),
    (f"{MODULE}/logging.tf", "}/containers", "}/pods", "CLOUDWATCH_LOG_GROUP"),
    ("infrastructure/staging/variables.tf", '= "eu-west-2"', '= "eu-west-1"', "AWS_REGION"),
    (STAGING_VARS, "SECRET_PATH: platform/staging/", "SECRET_PATH: other/", "LH_API_KEY_SECRET_PATH"),
    (f"{MODULE}/karpenter.tf", "= var.cluster_name\n", '= "q"\n', "interruption queue"),
    (f"{MODULE}/karpenter.tf", "node_iam_role_use_name_prefix      = false", "", "node_iam_role_use_name_prefix"),
]


@pytest.mark.parametrize(("where", "old", "new", "key"), BROKEN)
def test_a_mismatch_fails_naming_the_key(tree: Path, where: str, old: str, new: str, key: str) -> None:
    edit(tree / where, old, new)
    errors = run(tree)
    assert any(key in e for e in errors), errors
