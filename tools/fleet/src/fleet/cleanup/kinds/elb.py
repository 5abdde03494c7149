"""Load balancers: ALBs and NLBs (ELBv2) with their listeners and target groups, and classic ELBs, which the
in-tree Kubernetes service controller creates when the Load Balancer Controller is absent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fleet.cleanup.aws import Aws
from fleet.cleanup.kinds.common import Found, delete_one, judge
from fleet.cleanup.model import Orphan, Outcome, Skipped, Target
from fleet.cleanup.tags import classify, clusters_named, tag_dict
from fleet.cleanup.waiting import wait_until

TAG_BATCH = 20  # both DescribeTags APIs take at most 20 ARNs or names per call


def _elbv2_tags(aws: Aws, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), TAG_BATCH):
        answer = aws.call(aws.elbv2, "describe_tags", ResourceArns=list(arns[start : start + TAG_BATCH]))
        for description in answer.get("TagDescriptions", []):
            tags[description["ResourceArn"]] = tag_dict(description.get("Tags"))
    return tags


def find_load_balancers(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    lbs = list(aws.pages(aws.elbv2, "describe_load_balancers", "LoadBalancers", marker=True, PageSize=400))
    tags = _elbv2_tags(aws, [lb["LoadBalancerArn"] for lb in lbs])
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        name = f"{lb['LoadBalancerName']} ({lb.get('Type', '?')})"
        yield from judge("load-balancer", arn, name, classify(tags.get(arn, {}), target.cluster, "load-balancer"))


def find_listeners(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    # Listeners belong to exactly one load balancer, so the load balancer's tags decide for them.
    for lb in (o for o in found if o.kind == "load-balancer"):
        listeners = aws.pages(
            aws.elbv2, "describe_listeners", "Listeners", marker=True, LoadBalancerArn=lb.id, PageSize=400
        )
        for listener in listeners:
            lb_name = lb.name.split(" ")[0]
            name = f"{lb_name}:{listener.get('Port', '?')}"
            yield Orphan("listener", listener["ListenerArn"], name, f"listener of orphan {lb_name}")


def find_target_groups(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    orphan_lbs = {o.id: o for o in found if o.kind == "load-balancer"}
    groups = list(aws.pages(aws.elbv2, "describe_target_groups", "TargetGroups", marker=True, PageSize=400))
    tags = _elbv2_tags(aws, [g["TargetGroupArn"] for g in groups])
    for group in groups:
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        own = tags.get(arn, {})
        attached = group.get("LoadBalancerArns", [])
        pinned = [a for a in attached if a not in orphan_lbs]
        blocker = f"still attached to load balancer {pinned[0]}, which is not an orphan" if pinned else None
        verdict = classify(own, target.cluster, "target-group")
        if verdict.mentions_cluster:
            yield from judge("target-group", arn, name, verdict, blocker)
        elif not clusters_named(own):
            # An untagged group serving orphan load balancers goes with them (older controllers did not tag
            # it), unless a live load balancer also uses it.
            parents = [orphan_lbs[a] for a in attached if a in orphan_lbs]
            if parents and blocker:
                yield Skipped("target-group", arn, name, blocker)
            elif parents:
                parent = parents[0].name.split(" ")[0]
                yield Orphan("target-group", arn, name, f"untagged; serves only orphan {parent}")


def find_classic_load_balancers(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    names = [
        lb["LoadBalancerName"] for lb in aws.paginate(aws.elb, "describe_load_balancers", "LoadBalancerDescriptions")
    ]
    for start in range(0, len(names), TAG_BATCH):
        answer = aws.call(aws.elb, "describe_tags", LoadBalancerNames=names[start : start + TAG_BATCH])
        for description in answer.get("TagDescriptions", []):
            name = description["LoadBalancerName"]
            verdict = classify(tag_dict(description.get("Tags")), target.cluster, "classic-load-balancer")
            yield from judge("classic-load-balancer", name, f"{name} (classic)", verdict)


def delete_listeners(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(delete_one(aws, aws.elbv2, "delete_listener", o, "ListenerNotFound", ListenerArn=o.id))


def delete_load_balancers(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            delete_one(
                aws,
                aws.elbv2,
                "delete_load_balancer",
                o,
                "LoadBalancerNotFound",
                ("ResourceInUse",),
                LoadBalancerArn=o.id,
            )
        )

    # Target groups and security groups stay pinned until the load balancer is gone, not just "deleting".
    def still_listed(arns: Sequence[str]) -> dict[str, str]:
        wanted = set(arns)
        lbs = aws.pages(aws.elbv2, "describe_load_balancers", "LoadBalancers", marker=True, PageSize=400)
        return {
            lb["LoadBalancerArn"]: lb.get("State", {}).get("Code", "deleting")
            for lb in lbs
            if lb["LoadBalancerArn"] in wanted
        }

    wait_until(aws, "load balancers to be deleted", [o.id for o in orphans], still_listed)


def delete_classic_load_balancers(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    # DeleteLoadBalancer on a classic ELB succeeds for a name that no longer exists, so there is no "gone" code.
    for o in orphans:
        outcomes.append(
            delete_one(aws, aws.elb, "delete_load_balancer", o, "LoadBalancerNotFound", LoadBalancerName=o.id)
        )

    def still_listed(names: Sequence[str]) -> dict[str, str]:
        wanted = set(names)
        lbs = aws.paginate(aws.elb, "describe_load_balancers", "LoadBalancerDescriptions")
        return {lb["LoadBalancerName"]: "deleting" for lb in lbs if lb["LoadBalancerName"] in wanted}

    wait_until(aws, "classic load balancers to be deleted", [o.id for o in orphans], still_listed)


def delete_target_groups(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            delete_one(
                aws,
                aws.elbv2,
                "delete_target_group",
                o,
                "TargetGroupNotFound",
                ("ResourceInUse",),
                TargetGroupArn=o.id,
            )
        )
