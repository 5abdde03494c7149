"""Read the Kubernetes version (and upgrade policy) an EKS configuration pins, without running Terraform.

python-hcl2 8.x keeps the quotes around strings (`"\\"1.32\\""`) and leaves references as `${var.x}`, so values
are unquoted here and `var.`/`local.` references are resolved from variable defaults, *.tfvars and locals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

VERSION_ATTRS = ("kubernetes_version", "cluster_version")  # module v21+, and v20 and older
EKS_MODULE_SOURCE = "terraform-aws-modules/eks/aws"
REF_RE = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_-]+)\}$")


class TerraformError(Exception):
    """The directory has no readable Terraform or no EKS version in it."""


@dataclass(frozen=True)
class EksConfig:
    version: str
    where: str  # e.g. 'module "eks" in main.tf'
    upgrade_policy: str  # STANDARD or EXTENDED (AWS's default when unset)


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _labelled(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(unquote(label), body) for block in blocks for label, body in block.items() if isinstance(body, dict)]


@dataclass
class _Config:
    variables: dict[str, Any]
    locals: dict[str, Any]
    tfvars: dict[str, Any]
    candidates: list[tuple[str, dict[str, Any], str]]  # (description, body, version attribute)
    local_modules: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (label, source, body)

    def resolve(self, value: Any, depth: int = 0) -> Any:
        value = unquote(value)
        match = REF_RE.match(value) if isinstance(value, str) else None
        if not match or depth > 5:
            return value
        kind, name = match.groups()
        # tfvars win over a variable's default, as they do in Terraform.
        found = self.tfvars.get(name, self.variables.get(name)) if kind == "var" else self.locals.get(name)
        return None if found is None else self.resolve(found, depth + 1)


def _parse(directory: Path) -> _Config:
    if not directory.is_dir():
        raise TerraformError(f"{directory}: not a directory")
    cfg = _Config({}, {}, {}, [])
    tf_files = sorted(directory.glob("*.tf"))
    if not tf_files:
        raise TerraformError(f"{directory}: no *.tf files")
    for path in tf_files:
        try:
            with path.open(encoding="utf-8") as handle:
                doc = hcl2.load(handle)
        except Exception as exc:  # hcl2 raises lark errors of many kinds
            raise TerraformError(f"{path}: cannot parse HCL: {exc}") from exc
        for name, body in _labelled(doc.get("variable", [])):
            if "default" in body:
                cfg.variables[name] = body["default"]
        for block in doc.get("locals", []):
            cfg.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        for label, body in _labelled(doc.get("module", [])):
            source = str(unquote(body.get("source", "")))
            if source.startswith(("./", "../")):
                cfg.local_modules.append((label, source, body))
            if label == "eks" or EKS_MODULE_SOURCE in source:
                attr = next((a for a in VERSION_ATTRS if a in body), VERSION_ATTRS[0])
                cfg.candidates.append((f'module "{label}" in {path.name}', body, attr))
        for rtype, resources in _labelled(doc.get("resource", [])):
            if rtype == "aws_eks_cluster":
                for name, body in resources.items():
                    if isinstance(body, dict):
                        where = f'resource "aws_eks_cluster" "{unquote(name)}" in {path.name}'
                        cfg.candidates.append((where, body, "version"))
    for path in [directory / "terraform.tfvars", *sorted(directory.glob("*.auto.tfvars"))]:
        if path.is_file():
            try:
                cfg.tfvars.update(hcl2.load(path.open(encoding="utf-8")))
            except Exception as exc:
                raise TerraformError(f"{path}: cannot parse HCL: {exc}") from exc
    return cfg


def _upgrade_policy(body: dict[str, Any], cfg: _Config) -> str:
    policy = body.get("upgrade_policy")
    if isinstance(policy, list):  # a block (aws_eks_cluster) parses as a list of bodies
        policy = policy[0] if policy else None
    if isinstance(policy, dict) and policy.get("support_type") is not None:
        return str(cfg.resolve(policy["support_type"])).upper()
    return "EXTENDED"  # AWS's default when no policy is set; the eks module's default is null


# A module block's arguments that are Terraform's own, not the module's inputs.
META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "count", "for_each"})


def _follow_local_modules(directory: Path, cfg: _Config, depth: int = 0) -> tuple[Path, _Config, str]:
    """A root stack that only calls a local module (`source = "../modules/cluster"`): look inside it, with the
    call's arguments, resolved in the caller, taking the place of the module's variable defaults."""
    if cfg.candidates or depth > 3:
        return directory, cfg, ""
    for label, source, body in cfg.local_modules:
        child_dir = (directory / source).resolve()
        try:
            child = _parse(child_dir)
        except TerraformError:
            continue
        for name, value in body.items():
            if name not in META_ARGUMENTS and not name.startswith("__"):
                resolved = cfg.resolve(value)
                if resolved is not None:
                    child.variables[name] = resolved
        found_dir, found, via = _follow_local_modules(child_dir, child, depth + 1)
        if found.candidates:
            return found_dir, found, f' (through module "{label}" in {directory.name}){via}'
    return directory, cfg, ""


def read_eks_config(directory: Path) -> EksConfig:
    """The first EKS module or aws_eks_cluster with a version, following local module calls. Raises
    TerraformError."""
    directory, cfg, via = _follow_local_modules(directory, _parse(directory))
    if not cfg.candidates:
        raise TerraformError(f'{directory}: no module "eks", {EKS_MODULE_SOURCE} module or aws_eks_cluster')
    for where, body, attr in cfg.candidates:
        if attr in body:
            version = cfg.resolve(body[attr])
            if version is None or (isinstance(version, str) and version.startswith("${")):
                raise TerraformError(f"{where}: cannot resolve {attr} = {body[attr]} to a value")
            return EksConfig(str(version), where + via, _upgrade_policy(body, cfg))
    where = cfg.candidates[0][0]
    raise TerraformError(f"{where}: no {' or '.join(VERSION_ATTRS)} set, so AWS picks the version; pin one")
