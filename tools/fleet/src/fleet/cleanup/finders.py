"""Discovery: one finder per resource kind, all run by `discover` through the same loop.

A finder gets the AWS access, the cluster name and the orphans found so far (listeners and target groups are
found through their load balancers), and yields `Orphan` or `Skipped` records. Tag decisions are always made
by `tags.classify`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from fleet.cleanup.aws import Aws
from fleet.cleanup.model import Orphan, Report, Skipped
from fleet.cleanup.tags import Verdict, classify, clusters_named, tag_dict

Found = Orphan | Skipped
Finder = Callable[[Aws, str, Sequence[Orphan]], Iterator[Found]]

ELB_TAG_BATCH = 20  # DescribeTags takes at most 20 ARNs per call


def _judge(kind: str, rid: str, name: str, verdict: Verdict, blocker: str | None = None) -> Iterator[Found]:
    """Turn a tag verdict plus a state check (`blocker`, e.g. "in use") into at most one record."""
    if not verdict.mentions_cluster:
        return
    if verdict.refusal:
        yield Skipped(kind, rid, name, verdict.refusal)
    elif blocker:
        yield Skipped(kind, rid, name, blocker)
    else:
        yield Orphan(kind, rid, name, str(verdict.reason))


def _elb_tags(aws: Aws, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), ELB_TAG_BATCH):
        answer = aws.call(aws.elbv2, "describe_tags", ResourceArns=list(arns[start : start + ELB_TAG_BATCH]))
        for description in answer.get("TagDescriptions", []):
            tags[description["ResourceArn"]] = tag_dict(description.get("Tags"))
    return tags


def find_load_balancers(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    lbs = list(aws.pages(aws.elbv2, "describe_load_balancers", "LoadBalancers", marker=True, PageSize=400))
    tags = _elb_tags(aws, [lb["LoadBalancerArn"] for lb in lbs])
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        name = f"{lb['LoadBalancerName']} ({lb.get('Type', '?')})"
        yield from _judge("load-balancer", arn, name, classify(tags.get(arn, {}), cluster, "load-balancer"))


def find_listeners(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    # Listeners belong to exactly one load balancer, so the load balancer's tags decide for them.
    for lb in (o for o in found if o.kind == "load-balancer"):
        listeners = aws.pages(
            aws.elbv2, "describe_listeners", "Listeners", marker=True, LoadBalancerArn=lb.id, PageSize=400
        )
        for listener in listeners:
            lb_name = lb.name.split(" ")[0]
            name = f"{lb_name}:{listener.get('Port', '?')}"
            yield Orphan("listener", listener["ListenerArn"], name, f"listener of orphan {lb_name}")


def find_target_groups(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    orphan_lbs = {o.id: o for o in found if o.kind == "load-balancer"}
    groups = list(aws.pages(aws.elbv2, "describe_target_groups", "TargetGroups", marker=True, PageSize=400))
    tags = _elb_tags(aws, [g["TargetGroupArn"] for g in groups])
    for group in groups:
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        own = tags.get(arn, {})
        attached = group.get("LoadBalancerArns", [])
        pinned = [a for a in attached if a not in orphan_lbs]
        blocker = f"still attached to load balancer {pinned[0]}, which is not an orphan" if pinned else None
        verdict = classify(own, cluster, "target-group")
        if verdict.mentions_cluster:
            yield from _judge("target-group", arn, name, verdict, blocker)
        elif not clusters_named(own):
            # An untagged group serving orphan load balancers goes with them (older controllers did not tag
            # it), unless a live load balancer also uses it.
            parents = [orphan_lbs[a] for a in attached if a in orphan_lbs]
            if parents and blocker:
                yield Skipped("target-group", arn, name, blocker)
            elif parents:
                parent = parents[0].name.split(" ")[0]
                yield Orphan("target-group", arn, name, f"untagged; serves only orphan {parent}")


def find_network_interfaces(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    for eni in aws.pages(aws.ec2, "describe_network_interfaces", "NetworkInterfaces", MaxResults=1000):
        blocker = None
        if eni.get("RequesterManaged"):
            blocker = "managed by an AWS service; it goes away with its owner"
        elif eni.get("Status") != "available":
            attached_to = (eni.get("Attachment") or {}).get("InstanceId") or "something"
            blocker = f"in use ({eni.get('Status')}, attached to {attached_to})"
        verdict = classify(tag_dict(eni.get("TagSet")), cluster, "network-interface")
        name = eni.get("Description") or eni.get("InterfaceType") or ""
        yield from _judge("network-interface", eni["NetworkInterfaceId"], name, verdict, blocker)


def find_security_groups(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    for group in aws.pages(aws.ec2, "describe_security_groups", "SecurityGroups", MaxResults=1000):
        blocker = "a VPC's default group cannot be deleted" if group.get("GroupName") == "default" else None
        verdict = classify(tag_dict(group.get("Tags")), cluster, "security-group")
        yield from _judge("security-group", group["GroupId"], group.get("GroupName", ""), verdict, blocker)


def find_volumes(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    for volume in aws.pages(aws.ec2, "describe_volumes", "Volumes", MaxResults=500):
        tags = tag_dict(volume.get("Tags"))
        blocker = None
        if volume.get("State") != "available":
            instances = ", ".join(a.get("InstanceId", "?") for a in volume.get("Attachments", []))
            blocker = f"{volume.get('State')}" + (f", attached to {instances}" if instances else "")
        verdict = classify(tags, cluster, "volume")
        name = tags.get("Name") or f"{volume.get('Size', '?')} GiB {volume.get('VolumeType', '')}".strip()
        yield from _judge("volume", volume["VolumeId"], name, verdict, blocker)


def find_elastic_ips(aws: Aws, cluster: str, found: Sequence[Orphan]) -> Iterator[Found]:
    # DescribeAddresses has no pagination: one call returns every address in the region (limit is small).
    for address in aws.call(aws.ec2, "describe_addresses").get("Addresses", []):
        rid = address.get("AllocationId") or address.get("PublicIp", "")
        holder = address.get("AssociationId") or address.get("NetworkInterfaceId") or address.get("InstanceId")
        blocker = f"associated ({holder})" if holder else None
        verdict = classify(tag_dict(address.get("Tags")), cluster, "elastic-ip")
        yield from _judge("elastic-ip", rid, address.get("PublicIp", ""), verdict, blocker)


FINDERS: tuple[Finder, ...] = (
    find_load_balancers,
    find_listeners,
    find_target_groups,
    find_network_interfaces,
    find_security_groups,
    find_volumes,
    find_elastic_ips,
)


def discover(aws: Aws, cluster: str, region: str, finders: Sequence[Finder] = FINDERS) -> Report:
    """Run every finder in order. Any AwsError propagates: half a discovery is never reported as clean."""
    report = Report(cluster=cluster, region=region, applied=False)
    for finder in finders:
        for item in finder(aws, cluster, report.orphans):
            if isinstance(item, Orphan):
                report.orphans.append(item)
            else:
                report.skipped.append(item)
    return report
