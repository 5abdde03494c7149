"""EKS invariants on every terraform-aws-modules/eks/aws call (and aws_eks_cluster resource) under infrastructure/:
the Kubernetes version in standard support on the given date per fleet's calendar and >= 1.35, the STANDARD
upgrade policy, no public endpoint open to the world, and a spot managed node group.

The calendar date is a parameter so a test can ask "on 2026-12-02" and get the same answer every day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fleet.eks.calendar import BadVersion, Calendar, normalise, status, version_key
from fleet.terraform_hcl import Block, TfDir, TfTree, Traced

EKS_MODULE_SOURCE = "terraform-aws-modules/eks/aws"
MIN_VERSION = "1.35"  # the platform's floor (the roadmap's 1.32 has been billed at 6x since 2026-03-23)
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
ADMIN_CIDRS_VARIABLE = "admin_cidrs"


def eks_calls(tree: TfTree) -> list[tuple[TfDir, Block, str]]:
    """(directory, block, version argument) for each EKS module call and aws_eks_cluster resource."""
    modules = tree.blocks("module")
    calls = [(d, b, "kubernetes_version") for d, b in modules if b.body.get("source") == EKS_MODULE_SOURCE]
    return calls + [(d, b, "version") for d, b in tree.blocks("resource", "aws_eks_cluster")]


def _path(traced: Traced) -> str:
    return " <- ".join(traced.via)


def version_findings(tree: TfTree, calendar: Calendar, today: date) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    for tf_dir, block, attr in eks_calls(tree):
        if attr not in block.body:
            errors.append(f"{block.where}: no {attr}, so AWS picks the version; pin one in standard support")
            continue
        for traced in tree.trace(block.body[attr], tf_dir, (f"{block.where} {attr}",)):
            where = _path(traced)
            if not traced.resolved or not isinstance(traced.value, str) or traced.value.startswith("${"):
                errors.append(f"{where}: cannot resolve {traced.value!r} to a version (an unresolved value is no pass)")
                continue
            try:
                version = normalise(traced.value)
            except BadVersion as exc:
                errors.append(f"{where}: {exc}")
                continue
            errors += _support_findings(version, where, calendar, today)
            if version not in calendar.versions and version_key(version) > version_key(calendar.ordered()[-1]):
                warnings.append(f"{where}: {version} is newer than the calendar; refresh it (fleet eks calendar)")
    return errors, warnings


def _support_findings(version: str, where: str, calendar: Calendar, today: date) -> list[str]:
    errors: list[str] = []
    if version_key(version) < version_key(MIN_VERSION):
        errors.append(f"{where}: Kubernetes {version} is older than the platform's minimum {MIN_VERSION}")
    state = status(calendar, version, today)
    dates = calendar.versions.get(version)
    if state.phase in ("extended", "unsupported") and dates:
        errors.append(
            f"{where}: Kubernetes {version} is in {state.phase} support on {today.isoformat()}: it left standard "
            f"support on {dates.end_of_standard.isoformat()} (extended support is billed at 6x); "
            f"use {state.recommended}"
        )
    elif state.phase == "unknown":
        errors.append(f"{where}: Kubernetes {version} is not in the EKS calendar, so its support cannot be checked")
    elif dates and dates.released and today < dates.released:
        errors.append(f"{where}: Kubernetes {version} is not released on EKS until {dates.released.isoformat()}")
    return errors


def upgrade_policy_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for tf_dir, block, _ in eks_calls(tree):
        policy = block.body.get("upgrade_policy")
        policy = policy[0] if isinstance(policy, list) and policy else policy  # a resource's block is a list
        support = policy.get("support_type") if isinstance(policy, dict) else None
        values = [t.value for t in tree.trace(support, tf_dir)] if support is not None else []
        if values != ["STANDARD"]:
            errors.append(
                f'{block.where}: upgrade_policy = {{ support_type = "STANDARD" }} is required '
                f"(got {values or 'none'}); without it AWS bills extended support at 6x instead of upgrading"
            )
    return errors


def _open(value: Any) -> bool:
    return any(cidr in str(value) for cidr in OPEN_CIDRS)


def endpoint_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for _, block in tree.blocks("variable", ADMIN_CIDRS_VARIABLE):
        if "default" in block.body:
            errors.append(f"{block.where}: must have no default (every stack names its admins' CIDRs)")
    for _, block in tree.blocks("variable"):
        if "cidr" in block.labels[0] and _open(block.body.get("default")):
            errors.append(f"{block.where}: default {block.body['default']} opens it to the world")
    for tf_dir, block, _ in eks_calls(tree):
        body = block.body
        vpc_config = body.get("vpc_config")  # aws_eks_cluster's block
        if isinstance(vpc_config, list) and vpc_config:
            body = {**body, **vpc_config[0]}
        if "endpoint_public_access_cidrs" not in body and "public_access_cidrs" not in body:
            public = [t.value for t in tree.trace(body.get("endpoint_public_access", False), tf_dir)]
            if public != [False]:
                errors.append(f"{block.where}: public endpoint access without endpoint_public_access_cidrs (0.0.0.0/0)")
            continue
        cidrs = body.get("endpoint_public_access_cidrs", body.get("public_access_cidrs"))
        for traced in tree.trace(cidrs, tf_dir, (f"{block.where} endpoint_public_access_cidrs",)):
            if _open(traced.value):
                errors.append(f"{_path(traced)}: {traced.value} opens the API endpoint to the world")
    return errors


def spot_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for tf_dir, block, attr in eks_calls(tree):
        if attr != "kubernetes_version":
            continue
        spot = False
        for traced in tree.trace(block.body.get("eks_managed_node_groups"), tf_dir):
            groups = traced.value if isinstance(traced.value, dict) else {}
            for group in groups.values():
                capacity = group.get("capacity_type") if isinstance(group, dict) else None
                spot |= [t.value for t in tree.trace(capacity, tf_dir)] == ["SPOT"]
        if not spot:
            errors.append(f'{block.where}: no eks_managed_node_groups entry with capacity_type = "SPOT"')
    return errors
