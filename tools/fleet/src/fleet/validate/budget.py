"""The `pod-budget` check: the rendered staging cluster must fit one node: its max pods, CPU and memory.

Staging runs on one node (the roadmap's cost decision), so everything lands on it: the rendered workloads of
every staging target (Deployments at their HPA's maxReplicas, StatefulSets at replicas, DaemonSets once, Jobs at
parallelism), each HelmRelease's pods from k8s/infrastructure/controllers/chart-pods.yaml, and the EKS system pods.
The counting is `fleet capacity budget`'s own (fleet/capacity/): the rendered objects are written to one file and
scanned, so the check and the command can never disagree. Two additions the raw scan cannot see:
- a Flagger Canary runs the canary Deployment beside its primary during analysis: + the HPA's minReplicas (1);
- a HelmRelease with `spec.suspend: true` from the start (the AWS Load Balancer Controller) is never installed:
  it is listed in the warnings, not counted.
The node: NODE_INSTANCE_TYPE from staging's cluster-vars if set, else the smallest node the staging Karpenter
NodePools allow (node.kubernetes.io/instance-type In [...]), else t3.large. Its max pods follow the VPC CNI:
VPC_CNI_PREFIX_DELEGATION "true" in cluster-vars (Terraform's vpc-cni add-on setting) gives a /28 per address slot,
capped at 110 below 30 vCPUs; an EC2NodeClass `kubelet.maxPods` lowers it further. With prefix delegation on, an
EC2NodeClass must set kubelet.maxPods: Karpenter otherwise gives its nodes the ENI-limited figure.

With prefix delegation the pod count rarely binds; CPU and memory requests do (the scheduler places by requests).
So the same scan sums requests (fleet/capacity/requests.py) against the node's allocatable, computed as the EKS
AMI reserves it (fleet/capacity/allocatable.py) at that max pods. Steady state (HPA targets at minReplicas; no
canary copy: Flagger scales it to zero between analyses) must fit: an error names the largest requesters. Peak
(HPA maxReplicas, plus each Canary's copy) beyond one node is a warning saying how many nodes Karpenter would add.
The EKS add-ons are Terraform's own `addons` map (infrastructure/modules/cluster/*.tf) when infrastructure/
exists, so the budget cannot count a different set; an add-on whose `configuration_values` sets `resources`
(coredns, kube-proxy) counts those requests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from fleet.capacity.allocatable import node_allocatable
from fleet.capacity.budget import Scan, scan_manifests
from fleet.capacity.charts import ChartTable, load_chart_table
from fleet.capacity.enis import load_instance_types, max_pods
from fleet.capacity.requests import Requests, block_requests, pod_requests
from fleet.capacity.requests_budget import RequestsBudget, requesters
from fleet.capacity.system import load_system_table, parse_addons, system_rows
from fleet.datafiles import DataFileError
from fleet.eks.terraform import EKS_MODULE_SOURCE
from fleet.terraform_hcl import INFRA_DIR, decode_embedded, load_tree
from fleet.validate.base import Check, CheckResult, Context
from fleet.validate.policies import ClusterView, cluster_views
from fleet.validate.render import cluster_vars, render_all
from fleet.validate.shapes import as_dict

CLUSTER = "staging"
DEFAULT_INSTANCE_TYPE = "t3.large"
BUFFER = 2  # free slots for a rolling update's surge pod and a debug pod
CHART_TABLE = Path("k8s/infrastructure/controllers/chart-pods.yaml")
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
TERRAFORM_CLUSTER_MODULE = Path("infrastructure/modules/cluster")


def node_instance_type(docs: list[dict[str, Any]], variables: dict[str, str]) -> tuple[str, str]:
    """The instance type the budget is for, and why."""
    if variables.get("NODE_INSTANCE_TYPE"):
        return variables["NODE_INSTANCE_TYPE"], "NODE_INSTANCE_TYPE in cluster-vars"
    table = load_instance_types()
    allowed: list[str] = []
    for doc in docs:
        if doc.get("kind") == "NodePool" and str(doc.get("apiVersion", "")).startswith("karpenter.sh/"):
            spec = as_dict(as_dict(as_dict(doc.get("spec")).get("template")).get("spec"))
            for req in spec.get("requirements") or []:
                if as_dict(req).get("key") == INSTANCE_TYPE_LABEL and req.get("operator") == "In":
                    allowed += [str(v) for v in req.get("values") or [] if str(v) in table.instance_types]
    if allowed:
        smallest = min(allowed, key=lambda t: max_pods(table, t).max_pods)
        return smallest, "smallest instance type the staging NodePools allow"
    return DEFAULT_INSTANCE_TYPE, "default (no NODE_INSTANCE_TYPE in cluster-vars, no NodePool instance types)"


PREFIX_DELEGATION_VAR = "VPC_CNI_PREFIX_DELEGATION"


def kubelet_max_pods(docs: list[dict[str, Any]]) -> tuple[int | None, list[str]]:
    """The lowest `spec.kubelet.maxPods` of the Karpenter EC2NodeClasses (None when none sets one), and the classes
    that set none."""
    values: list[int] = []
    unset: list[str] = []
    for doc in docs:
        if doc.get("kind") == "EC2NodeClass" and str(doc.get("apiVersion", "")).startswith("karpenter.k8s.aws/"):
            value = as_dict(as_dict(doc.get("spec")).get("kubelet")).get("maxPods")
            if isinstance(value, int) and value > 0:
                values.append(value)
            else:
                unset.append(str(as_dict(doc.get("metadata")).get("name")))
    return (min(values) if values else None), unset


def addon_pod_requests(addon: Any) -> Requests | None:
    """What one pod of an add-on requests when its Terraform `configuration_values` sets `resources` (the EKS
    add-on schema for coredns and kube-proxy has it), else None: system-pods.yaml's figure stands."""
    raw = as_dict(addon).get("configuration_values")
    config = decode_embedded(raw) if isinstance(raw, str) else None
    return block_requests(as_dict(config).get("resources")) if isinstance(config, dict) else None


def terraform_addons(root: Path) -> tuple[list[str] | None, list[str]]:
    """The keys of the `addons` map of the EKS module call in infrastructure/modules/cluster (None when there is
    no infrastructure/ tree), and warnings for a tree whose map cannot be read."""
    names, _, warnings = terraform_addon_map(root)
    return names, warnings


def terraform_addon_map(root: Path) -> tuple[list[str] | None, dict[str, Requests], list[str]]:
    """terraform_addons, plus the per-pod requests each add-on's configuration_values sets (read with
    fleet.terraform_hcl, fleet's one HCL reader)."""
    if not (root / INFRA_DIR).is_dir():
        return None, {}, []
    tree = load_tree(root)
    module = tree.dirs.get((root / TERRAFORM_CLUSTER_MODULE).resolve())
    where = TERRAFORM_CLUSTER_MODULE
    unreadable = [e for e in tree.errors if e.startswith(f"{where}/")]
    if unreadable:
        return None, {}, [f"{unreadable[0]}: fleet's default add-on set used"]
    # The root EKS module only: its //modules/karpenter submodule has no add-ons.
    calls = [b.body for b in module.of("module") if b.body.get("source") == EKS_MODULE_SOURCE] if module else []
    maps = [c["addons"] for c in calls if isinstance(c.get("addons"), dict)]
    if not maps:
        return None, {}, [f"{where}: no `addons` map in a {EKS_MODULE_SOURCE} module call: fleet's default set used"]
    names = [str(name) for addons in maps for name in addons]
    stated = {
        str(name): requests
        for addons in maps
        for name, addon in addons.items()
        if (requests := addon_pod_requests(addon)) is not None
    }
    return names, stated, []


def _pod_requests_of(docs: list[dict[str, Any]], namespace: str, kind: str, name: str) -> Requests:
    for doc in docs:
        meta = as_dict(doc.get("metadata"))
        if doc.get("kind") == kind and meta.get("name") == name and str(meta.get("namespace")) == namespace:
            return pod_requests(as_dict(as_dict(as_dict(doc.get("spec")).get("template")).get("spec")))[0]
    return Requests()


def canary_requests(docs: list[dict[str, Any]]) -> list[tuple[str, int, Requests]]:
    """(what, pods, their requests) for each Canary: the canary Deployment (a copy of the target's pod template)
    at its HPA's minReplicas beside the primary."""
    out = []
    for what, pods, ns, target in _canaries(docs):
        out.append((what, pods, _pod_requests_of(docs, ns, "Deployment", target) * pods))
    return out


def canary_extra(docs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(what, pods) for each Canary: the canary Deployment at its HPA's minReplicas beside the primary."""
    return [(what, pods) for what, pods, _, _ in _canaries(docs)]


def _canaries(docs: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    hpas = {
        (str(as_dict(d.get("metadata")).get("namespace")), str(as_dict(d.get("metadata")).get("name"))): d
        for d in docs
        if d.get("kind") == "HorizontalPodAutoscaler"
    }
    extra = []
    for doc in docs:
        if doc.get("kind") != "Canary" or not str(doc.get("apiVersion", "")).startswith("flagger.app/"):
            continue
        meta, spec = as_dict(doc.get("metadata")), as_dict(doc.get("spec"))
        ns = str(meta.get("namespace"))
        hpa = hpas.get((ns, str(as_dict(spec.get("autoscalerRef")).get("name"))))
        low = as_dict(as_dict(hpa).get("spec")).get("minReplicas", 1)
        pods = low if isinstance(low, int) and low > 0 else 1
        target = str(as_dict(spec.get("targetRef")).get("name"))
        extra.append((f"Canary {ns}/{meta.get('name')}: canary Deployment during analysis", pods, ns, target))
    return extra


def scan_rendered(
    docs: list[dict[str, Any]],
    charts: ChartTable,
    addons: list[str] | None = None,
    addon_requests: dict[str, Requests] | None = None,
) -> tuple[Scan, list[str]]:
    """fleet capacity's scan over rendered objects; suspended HelmReleases are left out (never installed).

    `addons`: the EKS add-ons installed (Terraform's map), else system-pods.yaml's default set. An add-on that
    system-pods.yaml does not describe is a note, and counts nothing: add it to the table.
    """
    notes: list[str] = []
    kept = []
    for doc in docs:
        if doc.get("kind") == "HelmRelease" and as_dict(doc.get("spec")).get("suspend") is True:
            meta = as_dict(doc.get("metadata"))
            notes.append(f"HelmRelease {meta.get('namespace')}/{meta.get('name')} is suspended: not counted")
            continue
        kept.append(doc)
    system = load_system_table()
    chosen = parse_addons(None, system) if addons is None else [a for a in addons if a in system.addons]
    unknown = [a for a in addons or [] if a not in system.addons]
    if unknown:
        notes.append(
            f"EKS add-on {', '.join(unknown)} (Terraform) is not in fleet's data/system-pods.yaml: its pods and "
            "requests are not counted; add it there"
        )
    rows = system_rows(system, chosen, {})
    # Terraform's configuration_values states an add-on's requests: that, for each of its pods, wins.
    stated = addon_requests or {}
    rows = [
        row.model_copy(
            update={
                "requests": stated[row.name] * row.pods,
                "source": f"{row.source}; requests: Terraform addons.{row.name}.configuration_values",
            }
        )
        if row.addon and row.name in stated
        else row
        for row in rows
    ]
    with tempfile.TemporaryDirectory(prefix="fleet-budget-") as tmp:
        path = Path(tmp) / "rendered.yaml"
        path.write_text(yaml.safe_dump_all(kept, sort_keys=False), encoding="utf-8")
        scan = scan_manifests(path, rows, charts)
    # The scan names its input file; here that is a temporary file, so say what it really is.
    scan.warnings = [w.replace(f"{path}: ", "rendered staging: ") for w in scan.warnings]

    return scan, notes


def budget_findings(view: ClusterView, root: Path) -> tuple[list[str], list[str], str]:
    """Errors, warnings and a summary line for one cluster's rendered objects."""
    warnings: list[str] = []
    table_path = root / CHART_TABLE
    if table_path.is_file():
        charts = load_chart_table(table_path)
    else:
        charts = load_chart_table()
        warnings.append(f"{CHART_TABLE} missing: fleet's packaged chart table used")
    addons, addon_requests, addon_notes = terraform_addon_map(root)
    scan, notes = scan_rendered(view.docs, charts, addons, addon_requests)
    warnings += addon_notes + notes + scan.warnings
    extra = canary_requests(view.docs)
    variables = cluster_vars(root, view.cluster)
    instance, why = node_instance_type(view.docs, variables)
    prefix = variables.get(PREFIX_DELEGATION_VAR, "false").strip().lower() == "true"
    node = max_pods(load_instance_types(), instance, prefix)
    cap, unset = kubelet_max_pods(view.docs)
    errors = []
    if prefix and unset:
        errors.append(
            f"{view.cluster}: {PREFIX_DELEGATION_VAR} is true but EC2NodeClass {', '.join(unset)} sets no "
            f"kubelet.maxPods, so Karpenter's nodes get the ENI-limited figure"
        )
    limit = min(node.max_pods, cap) if cap else node.max_pods
    cni = f"prefix delegation, kubelet maxPods {cap}" if prefix else "no prefix delegation"
    canary_pods = sum(p for _, p, _ in extra)
    pods = scan.pods + scan.system_pods + canary_pods
    free = limit - pods
    parts = f"{scan.pods} workload + {scan.system_pods} system + {canary_pods} canary"
    summary = f"{view.cluster}: {pods} pods ({parts}) on one {instance} ({limit} max: {cni}; {why}), {free} free"
    if free < BUFFER:
        biggest = sorted((w for w in scan.workloads if w.counted), key=lambda w: -w.pods)[:5]
        top = ", ".join(f"{w.kind} {w.namespace}/{w.name} {w.pods} ({w.basis})" for w in biggest)
        errors.append(f"{summary}: fewer than {BUFFER} free slots; largest: {top}")
    node_room = node_allocatable(instance, load_instance_types().instance_types[instance], limit)
    if node_room is None:
        warnings.append(f"{instance}: no memory_mib in fleet's instance-types.yaml: CPU and memory not checked")
        return errors, warnings, summary
    budget = RequestsBudget(node_room, requesters(scan, extra))
    summary += f"; requests steady {budget.used(budget.steady)}, peak {budget.used(budget.peak)}"
    request_errors, request_warnings = budget.findings(view.cluster)
    return errors + request_errors, warnings + request_warnings, summary


class PodBudgetCheck(Check):
    name = "pod-budget"
    description = (
        "rendered staging pods + chart pods + EKS system pods fit one node's max pods with 2 to spare, and "
        "their steady-state CPU and memory requests fit its allocatable"
    )

    def run(self, ctx: Context) -> CheckResult:
        views = [v for v in cluster_views(render_all(ctx.root)) if v.cluster == CLUSTER]
        if not views or not views[0].objects:
            return CheckResult.from_findings(self.name, f"no rendered {CLUSTER} objects", [], [], 0)
        try:
            errors, warnings, summary = budget_findings(views[0], ctx.root)
        except KeyError as exc:  # an instance type the ENI table lacks
            return CheckResult.from_findings(self.name, "unknown node", [str(exc.args[0])], [], 1)
        except DataFileError as exc:  # a chart-pods.yaml that does not match the table's schema
            return CheckResult.from_findings(self.name, "bad chart table", [str(exc)], [], 1)
        return CheckResult.from_findings(self.name, summary, errors, warnings, len(views[0].objects))
