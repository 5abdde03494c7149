"""`--apply`: delete orphans kind by kind in `DELETE_ORDER`, waiting where AWS offers a waiter.

Each deleter appends an Outcome as soon as a resource is gone, so when an AwsError stops the run the report
still shows exactly what was deleted before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.model import DELETE_ORDER, Orphan, Outcome, Report

Deleter = Callable[[Aws, Sequence[Orphan], list[Outcome]], None]

WAITER_BATCH = 20  # DescribeLoadBalancers and DescribeVolumes filters accept this many ids comfortably


def _delete(
    aws: Aws,
    client: Any,
    operation: str,
    orphan: Orphan,
    gone_code: str,
    retry_codes: Sequence[str] = (),
    **params: Any,
) -> Outcome:
    """Delete one resource. "Not found" means someone already removed it: the goal, not an error."""
    try:
        aws.call(client, operation, retry_codes=retry_codes, **params)
    except AwsError as exc:
        if exc.code == gone_code:
            return Outcome(orphan.kind, orphan.id, "already gone")
        raise
    return Outcome(orphan.kind, orphan.id, "deleted")


def delete_listeners(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(_delete(aws, aws.elbv2, "delete_listener", o, "ListenerNotFound", ListenerArn=o.id))


def delete_load_balancers(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            _delete(
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
    arns = [o.id for o in orphans]
    for start in range(0, len(arns), WAITER_BATCH):
        aws.wait(aws.elbv2, "load_balancers_deleted", LoadBalancerArns=arns[start : start + WAITER_BATCH])


def delete_target_groups(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            _delete(
                aws,
                aws.elbv2,
                "delete_target_group",
                o,
                "TargetGroupNotFound",
                ("ResourceInUse",),
                TargetGroupArn=o.id,
            )
        )


def delete_network_interfaces(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            _delete(
                aws,
                aws.ec2,
                "delete_network_interface",
                o,
                "InvalidNetworkInterfaceID.NotFound",
                NetworkInterfaceId=o.id,
            )
        )


def _unlink_security_groups(aws: Aws, orphan_ids: set[str]) -> dict[str, str]:
    """Revoke rules inside orphan groups that point at other orphan groups (a reference blocks deletion of
    the group it points at, and two orphans may point at each other). A rule in a group that is NOT an orphan
    is never changed: the group it points at is reported as blocked instead. Returns {blocked id: why}.
    """
    blocked: dict[str, str] = {}
    for group in aws.pages(aws.ec2, "describe_security_groups", "SecurityGroups", MaxResults=1000):
        gid = group["GroupId"]
        rules = (("ingress", group.get("IpPermissions")), ("egress", group.get("IpPermissionsEgress")))
        for direction, perms in rules:
            for perm in perms or []:
                pairs = perm.get("UserIdGroupPairs") or []
                refs = [p for p in pairs if p.get("GroupId") in orphan_ids and p.get("GroupId") != gid]
                if not refs:
                    continue
                if gid not in orphan_ids:
                    for ref in refs:
                        blocked.setdefault(
                            ref["GroupId"],
                            f"referenced by an {direction} rule of {gid} ({group.get('GroupName', '')}),"
                            " which is not tagged for this cluster; remove that rule, then run cleanup again",
                        )
                    continue
                revoke = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
                revoke["UserIdGroupPairs"] = [{k: ref[k] for k in ("GroupId", "UserId") if ref.get(k)} for ref in refs]
                operation = f"revoke_security_group_{direction}"
                aws.call(aws.ec2, operation, GroupId=gid, IpPermissions=[revoke])
    return blocked


def delete_security_groups(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    blocked = _unlink_security_groups(aws, {o.id for o in orphans})
    for o in orphans:
        if o.id in blocked:
            outcomes.append(Outcome(o.kind, o.id, "blocked", blocked[o.id]))
            continue
        # DependencyViolation is retried: a deleted load balancer's ENIs linger for a minute or two.
        outcomes.append(
            _delete(
                aws,
                aws.ec2,
                "delete_security_group",
                o,
                "InvalidGroup.NotFound",
                ("DependencyViolation",),
                GroupId=o.id,
            )
        )


def delete_volumes(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(_delete(aws, aws.ec2, "delete_volume", o, "InvalidVolume.NotFound", VolumeId=o.id))
    ids = [o.id for o in orphans]
    for start in range(0, len(ids), WAITER_BATCH):
        aws.wait(aws.ec2, "volume_deleted", VolumeIds=ids[start : start + WAITER_BATCH])


def release_elastic_ips(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(_delete(aws, aws.ec2, "release_address", o, "InvalidAllocationID.NotFound", AllocationId=o.id))


DELETERS: dict[str, Deleter] = {
    "listener": delete_listeners,
    "load-balancer": delete_load_balancers,
    "target-group": delete_target_groups,
    "network-interface": delete_network_interfaces,
    "security-group": delete_security_groups,
    "volume": delete_volumes,
    "elastic-ip": release_elastic_ips,
}
assert set(DELETERS) == set(DELETE_ORDER), "every kind needs a deleter and a place in the order"


def apply(aws: Aws, report: Report) -> None:
    """Delete the report's orphans in dependency order. Raises AwsError at the first failure."""
    report.applied = True
    for kind in DELETE_ORDER:
        orphans = [o for o in report.orphans if o.kind == kind]
        if orphans:
            DELETERS[kind](aws, orphans, report.outcomes)
