"""Invariants of every Terraform directory under infrastructure/ that do not depend on EKS: module pins,
version constraints, provider tags, variables, IMDSv2 and where the LB controller policy comes from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fleet.terraform_hcl import INFRA_DIR, TfTree, local_source, walk

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
GIT_REF = re.compile(r"[?&]ref=([0-9a-f]{40})(?:&|$)")
REGISTRY_SOURCE = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+(//[A-Za-z0-9_./-]+)?$")
GIT_PREFIXES = ("git::", "github.com/", "git@", "bitbucket.org/")
COST_TAGS = ("Project", "Environment", "CostCenter")  # the cost allocation tags activated in Billing
LB_POLICY_GLOB = "**/policies/*load-balancer-controller*.json"
FILE_CALL = re.compile(r"\b(?:templatefile|file)\(\s*\"([^\"]+)\"")


def is_registry(source: str) -> bool:
    return bool(REGISTRY_SOURCE.match(source))


def module_pin_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for _, block in tree.blocks("module"):
        source, version = str(block.body.get("source", "")), block.body.get("version")
        if local_source(source):
            continue
        if source.startswith(GIT_PREFIXES) or "?ref=" in source:
            if not GIT_REF.search(source):
                errors.append(f"{block.where}: git source {source!r} needs ?ref=<40-hex commit SHA>")
        elif not is_registry(source):
            errors.append(f"{block.where}: source {source!r} is neither local, a registry module nor a pinned git ref")
        elif version is None:
            errors.append(f'{block.where}: registry module {source} has no version; pin an exact version = "X.Y.Z"')
        elif not EXACT_VERSION.match(str(version)):
            errors.append(f'{block.where}: version "{version}" is a range; pin an exact version = "X.Y.Z"')
    return errors


def version_constraint_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for tf_dir in tree.dirs.values():
        settings = tf_dir.of("terraform")
        if not any(b.body.get("required_version") for b in settings):
            errors.append(f"{tf_dir.rel}: no terraform {{ required_version }}")
        for block in settings:
            for providers in _as_blocks(block.body.get("required_providers")):
                for name, spec in providers.items():
                    if not (isinstance(spec, dict) and spec.get("version")):
                        errors.append(f"{block.where}: required_providers.{name} has no version constraint")
    return errors


def _as_blocks(value: Any) -> list[dict[str, Any]]:
    """A nested block parses as a list of bodies; an attribute written `x = {...}` as one dict."""
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def provider_tag_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for tf_dir, block in tree.blocks("provider", "aws"):
        default_tags = _as_blocks(block.body.get("default_tags"))
        if not default_tags:
            errors.append(f"{block.where}: no default_tags {{ tags }} with {', '.join(COST_TAGS)}")
            continue
        for traced in tree.trace(default_tags[0].get("tags"), tf_dir, (block.where,)):
            if not isinstance(traced.value, dict):
                errors.append(f"{block.where}: default_tags.tags {traced.value!r} is not a map this check can read")
                continue
            missing = [t for t in COST_TAGS if t not in traced.value]
            if missing:
                errors.append(f"{block.where}: default_tags.tags lacks the cost allocation tag(s) {', '.join(missing)}")
    return errors


def root_stack_findings(tree: TfTree) -> list[str]:
    """A root stack (a directory with a backend) configures the aws provider, so its default_tags apply, and keeps
    state in S3 encrypted with native locking (use_lockfile, Terraform >= 1.10; no DynamoDB table to forget)."""
    errors: list[str] = []
    for tf_dir in tree.dirs.values():
        backends = [
            (b, n, s) for b in tf_dir.of("terraform") for x in _as_blocks(b.body.get("backend")) for n, s in x.items()
        ]
        if backends and not tf_dir.of("provider", "aws"):
            errors.append(
                f'{tf_dir.rel}: a root stack without a provider "aws" block (its default_tags carry the cost tags)'
            )
        for block, name, settings in backends:
            settings = settings if isinstance(settings, dict) else {}
            if name != "s3":
                errors.append(f'{block.where}: backend "{name}"; state lives in the S3 bucket from permanent/')
            elif settings.get("use_lockfile") is not True or settings.get("encrypt") is not True:
                errors.append(f'{block.where}: backend "s3" needs encrypt = true and use_lockfile = true')
    return errors


def variable_findings(tree: TfTree) -> list[str]:
    errors: list[str] = []
    for _, block in tree.blocks("variable"):
        var_type = str(block.body.get("type", "")).removeprefix("${").removesuffix("}")
        if not var_type:
            errors.append(f"{block.where}: no type")
        if not str(block.body.get("description", "")).strip():
            errors.append(f"{block.where}: no description")
        if var_type != "bool" and not block.body.get("validation"):
            errors.append(f"{block.where}: no validation block (every variable but a bool is validated)")
    return errors


def imds_findings(tree: TfTree) -> list[str]:
    """IMDSv2 wherever metadata options are set (node groups, launch templates): http_tokens must be required."""
    errors: list[str] = []
    for tf_dir in tree.dirs.values():
        for block in tf_dir.blocks:
            for item in walk(block.body):
                if not (isinstance(item, dict) and "metadata_options" in item):
                    continue
                for options in _as_blocks(item["metadata_options"]):
                    tokens = [t.value for t in tree.trace(options.get("http_tokens"), tf_dir)]
                    if tokens != ["required"]:
                        found = f"metadata_options.http_tokens {tokens}"
                        errors.append(f'{block.where}: {found} is not "required" (IMDSv2)')
    return errors


def _file_references(tree: TfTree) -> set[Path]:
    found: set[Path] = set()
    for tf_dir in tree.dirs.values():
        for block in tf_dir.blocks:
            for item in walk(block.body):
                for name in FILE_CALL.findall(item) if isinstance(item, str) else []:
                    found.add((tf_dir.path / name.replace("${path.module}", ".")).resolve())
    return found


def policy_source_findings(tree: TfTree) -> list[str]:
    """No `data "http"` (a plan must not fetch a policy from a moving branch); the committed LB controller
    policy file exists where an EKS cluster is built and is read with file()/templatefile()."""
    fetch = 'data "http" fetches at plan time; commit the file and read it with file()'
    errors = [f"{block.where}: {fetch}" for _, block in tree.blocks("data", "http")]
    infra = tree.root / INFRA_DIR
    policy_files = sorted(infra.glob(LB_POLICY_GLOB)) if infra.is_dir() else []
    references = _file_references(tree)
    for path in policy_files:
        if path.resolve() not in references:
            errors.append(f"{path.relative_to(tree.root)}: not read by any file()/templatefile() call")
    builds_eks = any(b.body.get("source") == "terraform-aws-modules/eks/aws" for _, b in tree.blocks("module"))
    if builds_eks and not policy_files:
        errors.append(f"no committed LB controller policy ({LB_POLICY_GLOB}) beside the EKS cluster")
    for path in sorted(references):
        if path.suffix == ".json" and not path.is_file():
            errors.append(f"file() reads {_relative(path, tree.root)}, which does not exist")
    return errors


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)
