"""The AWS side of pre-destroy: which load balancers and EBS volumes the Kubernetes objects own, and which of
them are still in the account. Pre-destroy never deletes these itself: their controllers do, once the objects
are deleted, and this module only watches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.cleanup.aws import Aws
from fleet.cleanup.finders import ELB_TAG_BATCH
from fleet.cleanup.tags import PVC_NAME_KEY, PVC_NAMESPACE_KEY, classify, tag_dict
from fleet.predestroy.kube import INGRESS, SERVICE, KubeObject
from fleet.predestroy.model import AwsResource, Target

# The AWS Load Balancer Controller tags each load balancer with the cluster and the object it serves
# ("stack": namespace/name, or the IngressGroup's name).
LBC_CLUSTER_TAG = "elbv2.k8s.aws/cluster"
STACK_TAGS = {
    "Service": "service.k8s.aws/stack",
    "Ingress": "ingress.k8s.aws/stack",
    "Gateway": "gateway.k8s.aws/stack",
}
INGRESS_GROUP_ANNOTATION = "alb.ingress.kubernetes.io/group.name"
# The in-tree service controller (no LB Controller) tags kubernetes.io/cluster/NAME=owned plus this one.
IN_TREE_SERVICE_TAG = "kubernetes.io/service-name"
EBS_CSI_DRIVER = "ebs.csi.aws.com"


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    dns: str
    tags: dict[str, str]


def load_balancers(aws: Aws, with_tags: bool = True) -> list[LoadBalancer]:
    described = list(aws.pages(aws.elbv2, "describe_load_balancers", "LoadBalancers", marker=True, PageSize=400))
    arns = [lb["LoadBalancerArn"] for lb in described]
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns) if with_tags else 0, ELB_TAG_BATCH):
        answer = aws.call(aws.elbv2, "describe_tags", ResourceArns=arns[start : start + ELB_TAG_BATCH])
        tags |= {d["ResourceArn"]: tag_dict(d.get("Tags")) for d in answer.get("TagDescriptions", [])}
    return [
        LoadBalancer(
            lb["LoadBalancerArn"], lb["LoadBalancerName"], str(lb.get("DNSName", "")).lower(), tags.get(arn, {})
        )
        for lb, arn in zip(described, arns, strict=True)
    ]


def _stack(target: Target, obj: KubeObject) -> str:
    group = obj.metadata.annotations.get(INGRESS_GROUP_ANNOTATION) if target.kind == INGRESS.kind else None
    return group or f"{target.namespace}/{target.name}"


def _why(cluster: str, target: Target, obj: KubeObject, lb: LoadBalancer) -> str | None:
    stack, stack_key = _stack(target, obj), STACK_TAGS[target.kind]
    if lb.tags.get(LBC_CLUSTER_TAG) == cluster and lb.tags.get(stack_key) == stack:
        return f"tags {LBC_CLUSTER_TAG}={cluster}, {stack_key}={stack}"
    in_tree_owned = lb.tags.get(f"kubernetes.io/cluster/{cluster}") == "owned"
    if target.kind == SERVICE.kind and in_tree_owned and lb.tags.get(IN_TREE_SERVICE_TAG) == stack:
        return f"tags kubernetes.io/cluster/{cluster}=owned, {IN_TREE_SERVICE_TAG}={stack}"
    if lb.dns and lb.dns in {h.lower() for h in obj.hostnames}:
        return f"hostname {lb.dns} in the object's status"
    return None


def attach_load_balancers(cluster: str, target: Target, obj: KubeObject, lbs: Sequence[LoadBalancer]) -> None:
    """Record on `target` the load balancers it owns, and a note for a status hostname no ELBv2 answers to."""
    for lb in lbs:
        why = _why(cluster, target, obj, lb)
        if why:
            target.aws.append(
                AwsResource(kind="load-balancer", id=lb.arn, name=lb.name, found_by=why, owner=target.label)
            )
    known = {lb.dns for lb in lbs}
    for hostname in obj.hostnames:
        if hostname.lower() not in known:
            target.notes.append(
                f"hostname {hostname} matches no ELBv2 load balancer in this region (a classic ELB?): not waited for"
            )


def _volume_ids_of(pv: KubeObject) -> list[str]:
    csi = pv.spec.get("csi") or {}
    if csi.get("driver") == EBS_CSI_DRIVER and csi.get("volumeHandle"):
        return [str(csi["volumeHandle"])]
    legacy = (pv.spec.get("awsElasticBlockStore") or {}).get("volumeID")  # aws://eu-west-2a/vol-0123 or vol-0123
    return [str(legacy).rsplit("/", 1)[-1]] if legacy else []


def _volumes(aws: Aws, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(aws.pages(aws.ec2, "describe_volumes", "Volumes", Filters=filters))


def attach_volumes(aws: Aws, cluster: str, target: Target, pv: KubeObject | None) -> None:
    """Record the EBS volume behind a PVC: its PV's volume handle, or the EBS CSI driver's created-for tags."""
    found: dict[str, tuple[str, str]] = {}
    if pv is not None:
        for volume_id in _volume_ids_of(pv):
            found[volume_id] = (volume_id, f"PV {pv.metadata.name} volumeHandle")
    by_tag = [
        {"Name": f"tag:{PVC_NAME_KEY}", "Values": [target.name]},
        {"Name": f"tag:{PVC_NAMESPACE_KEY}", "Values": [target.namespace]},
    ]
    for volume in _volumes(aws, by_tag):
        tags = tag_dict(volume.get("Tags"))
        volume_id = str(volume["VolumeId"])
        # The PVC name alone does not say which cluster: the volume must also carry this cluster's tag.
        verdict = classify(tags, cluster, "volume")
        if verdict.ours and volume_id not in found:
            found[volume_id] = (tags.get("Name", volume_id), f"tags {verdict.reason}")
    if not found:
        return
    existing = {str(v["VolumeId"]) for v in _volumes(aws, [{"Name": "volume-id", "Values": sorted(found)}])}
    retain = pv is not None and pv.spec.get("persistentVolumeReclaimPolicy") == "Retain"
    for volume_id, (name, why) in sorted(found.items()):
        if volume_id not in existing:
            continue
        resource = AwsResource(kind="volume", id=volume_id, name=name, found_by=why, owner=target.label)
        if retain:
            target.kept.append(resource)
            target.notes.append(f"PV {pv.metadata.name if pv else '?'} has reclaimPolicy Retain: {volume_id} is kept")
        else:
            target.aws.append(resource)


def still_there(aws: Aws, resources: Iterable[AwsResource]) -> list[AwsResource]:
    """The resources AWS still lists (a volume in state "deleting" still counts: it still exists)."""
    wanted = list(resources)
    present: set[str] = set()
    if any(r.kind == "load-balancer" for r in wanted):
        present |= {lb.arn for lb in load_balancers(aws, with_tags=False)}
    volume_ids = sorted(r.id for r in wanted if r.kind == "volume")
    if volume_ids:
        present |= {str(v["VolumeId"]) for v in _volumes(aws, [{"Name": "volume-id", "Values": volume_ids}])}
    return [r for r in wanted if r.id in present]
