"""The `cluster-vars-terraform` check: each cluster's cluster-vars.yaml says what its Terraform stack makes.

Flux substitutes cluster-vars into the tree (the node role Karpenter's EC2NodeClass names, the log group Fluent Bit
writes to, whether the VPC CNI hands out prefixes), and Terraform creates the real things. A name that differs
between the two fails only on a live cluster, hours later (nodes that never join, logs that go nowhere), so it is
compared here. For infrastructure/<env> and k8s/clusters/<env> that both exist: the root stack's call of its local
module (`module "cluster" { source = "../modules/cluster" ... }`) gives the arguments, the module's HCL gives the
names built from them, and each is compared with its cluster-vars key. The HCL is read by fleet.terraform_hcl, the
one HCL reader of fleet, which the Terraform checks and `fleet eks status --from-terraform` use too.
"""

from __future__ import annotations

import re
from typing import Any

from fleet.eks.terraform import EKS_MODULE_SOURCE
from fleet.terraform_hcl import INFRA_DIR, Body, TfDir, TfTree, decode_embedded, load_tree, local_source
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.render import cluster_vars

ENVIRONMENTS = ("staging", "production")
INTERPOLATION = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
SECRET_PATH_KEYS = ("LH_API_KEY_SECRET_PATH", "LH_FLAGGER_TOKEN_SECRET_PATH")


def _value(raw: Any, variables: dict[str, Any]) -> str | None:
    """A string attribute with `${var.x}` filled in; None when it refers to anything else or to an unknown var."""
    if not isinstance(raw, str):
        return None
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        if match.group(1) in variables and isinstance(variables[match.group(1)], str):
            return str(variables[match.group(1)])
        missing.append(match.group(1))
        return match.group(0)

    filled = INTERPOLATION.sub(fill, raw)
    return None if missing or "${" in filled else filled


KARPENTER_MODULE_SOURCE = f"{EKS_MODULE_SOURCE}//modules/karpenter"


def _module_body(module: TfDir, source: str) -> Body:
    """The arguments of the module call with exactly this source ({} when there is none)."""
    return next((b.body for b in module.of("module") if b.body.get("source") == source), {})


def _prefix_delegation(eks: Body) -> str:
    """ENABLE_PREFIX_DELEGATION from the vpc-cni add-on's configuration_values ("false" when it is not set)."""
    vpc_cni = eks.get("addons", {}).get("vpc-cni", {}) if isinstance(eks.get("addons"), dict) else {}
    raw = vpc_cni.get("configuration_values") if isinstance(vpc_cni, dict) else None
    config = decode_embedded(raw) if isinstance(raw, str) else None
    env = config.get("env", {}) if isinstance(config, dict) else {}
    return str(env.get("ENABLE_PREFIX_DELEGATION", "false")).lower() if isinstance(env, dict) else "false"


def compare(tree: TfTree, env: str, variables: dict[str, str]) -> tuple[list[str], int]:
    """Mismatches between one stack and its cluster-vars, and how many keys were compared."""
    where = f"infrastructure/{env} vs k8s/clusters/{env}/cluster-vars.yaml"
    root = tree.dirs.get((tree.root / INFRA_DIR / env).resolve())
    call = next((b for b in root.of("module") if local_source(str(b.body.get("source", "")))), None) if root else None
    if root is None or call is None:
        return [f'{where}: the stack calls no local module (module {{ source = "../modules/..." }})'], 1
    target = tree.local_target(root, call)
    module = tree.dirs.get(target) if target else None
    if module is None:
        return [f"{where}: {call.where}: no Terraform in {call.body.get('source')}"], 1
    # The call's arguments, each traced in the root stack (`var.region` -> its default).
    args = {}
    for name, raw in call.body.items():
        traced = tree.trace(raw, root)
        if len(traced) == 1 and traced[0].resolved and isinstance(traced[0].value, str):
            args[name] = traced[0].value
    defaults = {name: block.body.get("default") for name, block in module.variables.items()}
    scope = {**defaults, **args}
    karpenter = _module_body(module, KARPENTER_MODULE_SOURCE)
    log_group = next((b.body for b in module.of("resource", "aws_cloudwatch_log_group")), {})
    expected: dict[str, str | None] = {
        "CLUSTER_NAME": scope.get("cluster_name"),
        "ENVIRONMENT": scope.get("environment"),
        "AWS_REGION": scope.get("region"),
        "KARPENTER_NODE_ROLE": _value(karpenter.get("node_iam_role_name"), scope),
        "CLOUDWATCH_LOG_GROUP": _value(log_group.get("name"), scope),
        "VPC_CNI_PREFIX_DELEGATION": _prefix_delegation(_module_body(module, EKS_MODULE_SOURCE)),
    }
    errors = []
    for key, value in expected.items():
        if value is None:
            errors.append(f"{where}: {key}: cannot work out what Terraform sets (not a plain string or var)")
        elif variables.get(key) != value:
            errors.append(f"{where}: {key} is {variables.get(key)!r}, Terraform makes {value!r}")
    if karpenter and karpenter.get("node_iam_role_use_name_prefix") is not False:
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
        envs = [e for e in ENVIRONMENTS if (ctx.k8s_dir / "clusters" / e / "cluster-vars.yaml").is_file()]
        tree = load_tree(ctx.root) if any((ctx.root / INFRA_DIR / e).is_dir() for e in envs) else None
        for env in envs:
            if tree is not None and (ctx.root / INFRA_DIR / env).is_dir():
                found, count = compare(tree, env, cluster_vars(ctx.root, env))
                errors += found
                checked += count
                pairs.append(env)
        errors += tree.errors if tree is not None else []  # a stack that does not parse is no agreement
        summary = f"{checked} key(s) in {len(pairs)} environment(s): {', '.join(pairs) or 'none'}"
        return CheckResult.from_findings(self.name, summary, errors, [], checked)
