"""Read the Kubernetes version (and upgrade policy) an EKS configuration pins, without running Terraform.

The stack is read by fleet.terraform_hcl (the HCL reader the offline checks use too): `var.`/`local.` references
are traced to terraform.tfvars, variable defaults and locals, and a root stack that only calls a local module
(`source = "../modules/cluster"`) is followed into it with the call's arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.terraform_hcl import TfDir, TfTree, load_stack

VERSION_ATTRS = ("kubernetes_version", "cluster_version")  # module v21+, and v20 and older
EKS_MODULE_SOURCE = "terraform-aws-modules/eks/aws"
# A module block's arguments that are Terraform's own, not the module's inputs.
META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "count", "for_each"})
MAX_FOLLOW_DEPTH = 3


class TerraformError(Exception):
    """The directory has no readable Terraform or no EKS version in it."""


@dataclass(frozen=True)
class EksConfig:
    version: str
    where: str  # e.g. 'module "eks" in main.tf'
    upgrade_policy: str  # STANDARD or EXTENDED (AWS's default when unset)


@dataclass(frozen=True)
class _Candidate:
    where: str
    body: dict[str, Any]
    attr: str  # the attribute that holds the version


def _candidates(tf_dir: TfDir) -> list[_Candidate]:
    found = []
    for block in tf_dir.blocks:
        labels = " ".join(f'"{label}"' for label in block.labels)
        where = f"{block.kind} {labels} in {Path(block.file).name}"  # the file's name, as a reader looks for it
        if block.kind == "module" and (block.labels[0] == "eks" or EKS_MODULE_SOURCE in str(block.body.get("source"))):
            attr = next((a for a in VERSION_ATTRS if a in block.body), VERSION_ATTRS[0])
            found.append(_Candidate(where, block.body, attr))
        elif block.kind == "resource" and block.labels[0] == "aws_eks_cluster":
            found.append(_Candidate(where, block.body, "version"))
    return found


def _find(tree: TfTree, tf_dir: TfDir, depth: int = 0) -> tuple[TfDir, list[_Candidate], str]:
    """The candidates in tf_dir, or else in the first local module it calls that has some (and how it got there)."""
    found = _candidates(tf_dir)
    if found or depth >= MAX_FOLLOW_DEPTH:
        return tf_dir, found, ""
    for call in tf_dir.of("module"):
        target = tree.local_target(tf_dir, call)
        child = tree.dirs.get(target) if target else None
        if child is None or not child.blocks:
            continue
        found_dir, deeper, via = _find(tree, child, depth + 1)
        if deeper:
            return found_dir, deeper, f' (through module "{call.labels[0]}" in {tf_dir.path.name}){via}'
    return tf_dir, [], ""


def _resolve(tree: TfTree, value: Any, tf_dir: TfDir) -> Any:
    """The value a reference stands for (tfvars over a default; a caller's argument over the module's default),
    or None when it leads nowhere or to an expression."""
    traced = tree.trace(value, tf_dir)
    first = traced[0] if traced else None
    if first is None or not first.resolved or (isinstance(first.value, str) and first.value.startswith("${")):
        return None
    return first.value


def _upgrade_policy(tree: TfTree, tf_dir: TfDir, body: dict[str, Any], where: str) -> str:
    policy = body.get("upgrade_policy")
    if isinstance(policy, list):  # a block (aws_eks_cluster) parses as a list of bodies
        policy = policy[0] if policy else None
    if isinstance(policy, dict) and policy.get("support_type") is not None:
        support = _resolve(tree, policy["support_type"], tf_dir)
        if support is None:
            raise TerraformError(f"{where}: cannot resolve upgrade_policy.support_type = {policy['support_type']}")
        return str(support).upper()
    return "EXTENDED"  # AWS's default when no policy is set; the eks module's default is null


def read_eks_config(directory: Path) -> EksConfig:
    """The first EKS module or aws_eks_cluster with a version, following local module calls. Raises
    TerraformError."""
    if not directory.is_dir():
        raise TerraformError(f"{directory}: not a directory")
    if not any(directory.glob("*.tf")):
        raise TerraformError(f"{directory}: no *.tf files")
    tree = load_stack(directory)
    if tree.errors:
        raise TerraformError(f"{directory}: {tree.errors[0]}")
    tf_dir, candidates, via = _find(tree, tree.dirs[tree.root])
    if not candidates:
        raise TerraformError(f'{directory}: no module "eks", {EKS_MODULE_SOURCE} module or aws_eks_cluster')
    for candidate in candidates:
        if candidate.attr in candidate.body:
            version = _resolve(tree, candidate.body[candidate.attr], tf_dir)
            if version is None:
                raw = candidate.body[candidate.attr]
                raise TerraformError(f"{candidate.where}: cannot resolve {candidate.attr} = {raw} to a value")
            policy = _upgrade_policy(tree, tf_dir, candidate.body, candidate.where)
            return EksConfig(str(version), candidate.where + via, policy)
    where = candidates[0].where
    raise TerraformError(f"{where}: no {' or '.join(VERSION_ATTRS)} set, so AWS picks the version; pin one")
