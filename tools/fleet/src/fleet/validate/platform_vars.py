"""The `cluster-vars-terraform` check: each cluster's cluster-vars.yaml says what its Terraform stack makes.

Flux substitutes cluster-vars into the tree (the node role Karpenter's EC2NodeClass names, the log group Fluent Bit
writes to, whether the VPC CNI hands out prefixes), and Terraform creates the real things. A name that differs
between the two fails only on a live cluster, hours later (nodes that never join, logs that go nowhere), so it is
compared here. For infrastructure/<env> and k8s/clusters/<env> that both exist: the root stack's call of its local
module (`module "cluster" { source = "../modules/cluster" ... }`) gives the arguments, the module's HCL gives the
names built from them, and each is compared with its cluster-vars key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from fleet.eks.terraform import unquote
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.render import cluster_vars

ENVIRONMENTS = ("staging", "production")
INTERPOLATION = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
PREFIX_DELEGATION = re.compile(r'ENABLE_PREFIX_DELEGATION\s*=\s*"?(true|false)"?')
SECRET_PATH_KEYS = ("LH_API_KEY_SECRET_PATH", "LH_FLAGGER_TOKEN_SECRET_PATH")


def _labelled(blocks: Any) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks if isinstance(blocks, list) else []:
        for label, body in block.items():
            if isinstance(body, dict):
                found.append((str(unquote(label)), body))
    return found


@dataclass
class _Module:
    """What the comparison needs from one directory of .tf files."""

    variables: dict[str, Any] = field(default_factory=dict)  # defaults
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    text: str = ""


def _load(directory: Path) -> _Module:
    module = _Module()
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        module.text += text
        doc = hcl2.loads(text)
        for name, body in _labelled(doc.get("variable")):
            if "default" in body:
                module.variables[name] = unquote(body["default"])
        for name, body in _labelled(doc.get("module")):
            module.modules[name] = body
        for rtype, resources in _labelled(doc.get("resource")):
            for name, body in resources.items():
                if isinstance(body, dict):
                    module.resources[(rtype, str(unquote(name)))] = body
    return module


def _value(raw: Any, variables: dict[str, Any]) -> str | None:
    """A string attribute with `${var.x}` filled in; None when it refers to anything else or to an unknown var."""
    text = unquote(raw)
    if not isinstance(text, str):
        return None
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        if match.group(1) in variables and isinstance(variables[match.group(1)], str):
            return str(variables[match.group(1)])
        missing.append(match.group(1))
        return match.group(0)

    filled = INTERPOLATION.sub(fill, text)
    return None if missing or "${" in filled else filled


def _call(root: _Module) -> tuple[str, Path, dict[str, Any]] | None:
    """The root stack's local module call, and its arguments with `var.x` resolved from the root's defaults."""
    for name, body in root.modules.items():
        source = str(unquote(body.get("source", "")))
        if source.startswith(("./", "../")):
            args = {k: _value(v, root.variables) for k, v in body.items() if not k.startswith("__")}
            return name, Path(source), {k: v for k, v in args.items() if v is not None}
    return None


def compare(infra: Path, variables: dict[str, str], env: str) -> tuple[list[str], int]:
    """Mismatches between one stack and its cluster-vars, and how many keys were compared."""
    where = f"infrastructure/{env} vs k8s/clusters/{env}/cluster-vars.yaml"
    try:
        root = _load(infra)
    except Exception as exc:  # python-hcl2 raises lark errors of many kinds; terraform-invariants names the file
        return [f"{where}: cannot parse the stack: {exc}"], 1
    call = _call(root)
    if call is None:
        return [f'{where}: the stack calls no local module (module {{ source = "../modules/..." }})'], 1
    label, source, args = call
    try:
        module = _load((infra / source).resolve())
    except Exception as exc:
        return [f"{where}: cannot parse module {label} ({source}): {exc}"], 1
    scope = {**module.variables, **args}
    karpenter = next((b for b in module.modules.values() if "modules/karpenter" in str(b.get("source", ""))), {})
    log_group = next((b for (t, _), b in module.resources.items() if t == "aws_cloudwatch_log_group"), {})
    expected: dict[str, str | None] = {
        "CLUSTER_NAME": scope.get("cluster_name"),
        "ENVIRONMENT": scope.get("environment"),
        "AWS_REGION": scope.get("region"),
        "KARPENTER_NODE_ROLE": _value(karpenter.get("node_iam_role_name"), scope),
        "CLOUDWATCH_LOG_GROUP": _value(log_group.get("name"), scope),
    }
    prefix = PREFIX_DELEGATION.search(module.text)
    expected["VPC_CNI_PREFIX_DELEGATION"] = prefix.group(1) if prefix else "false"
    errors = []
    for key, value in expected.items():
        if value is None:
            errors.append(f"{where}: {key}: cannot work out what Terraform sets (not a plain string or var)")
        elif variables.get(key) != value:
            errors.append(f"{where}: {key} is {variables.get(key)!r}, Terraform makes {value!r}")
    if karpenter and unquote(karpenter.get("node_iam_role_use_name_prefix")) is not False:
        # The module's default (true) makes node_iam_role_name a prefix: the real name gains a random suffix.
        errors.append(f"{where}: KARPENTER_NODE_ROLE: the Karpenter module needs node_iam_role_use_name_prefix = false")
    queue = _value(karpenter.get("queue_name"), scope)
    if queue != expected["CLUSTER_NAME"]:
        # Karpenter's HelmRelease reads its queue as ${CLUSTER_NAME}.
        errors.append(f"{where}: the Karpenter interruption queue is {queue!r}, not the cluster name")
    secrets_prefix = f"platform/{expected['ENVIRONMENT']}/"
    for key in SECRET_PATH_KEYS:
        if key in variables and not variables[key].startswith(secrets_prefix):
            errors.append(
                f"{where}: {key} {variables[key]!r} is outside {secrets_prefix}, which external-secrets may read"
            )
    return errors, len(expected) + 1 + len(SECRET_PATH_KEYS)


class ClusterVarsTerraformCheck(Check):
    name = "cluster-vars-terraform"
    description = (
        "each cluster's cluster-vars.yaml names what its Terraform stack creates (cluster, region, Karpenter node "
        "role and queue, log group, VPC CNI prefix delegation, secret paths)"
    )

    def run(self, ctx: Context) -> CheckResult:
        errors: list[str] = []
        checked = 0
        pairs = []
        for env in ENVIRONMENTS:
            infra, vars_file = ctx.root / "infrastructure" / env, ctx.k8s_dir / "clusters" / env / "cluster-vars.yaml"
            if infra.is_dir() and vars_file.is_file():
                found, count = compare(infra, cluster_vars(ctx.root, env), env)
                errors += found
                checked += count
                pairs.append(env)
        summary = f"{checked} key(s) in {len(pairs)} environment(s): {', '.join(pairs) or 'none'}"
        return CheckResult.from_findings(self.name, summary, errors, [], checked)
