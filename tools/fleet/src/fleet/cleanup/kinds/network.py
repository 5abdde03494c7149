"""ENIs, security groups and Elastic IPs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fleet.cleanup.aws import Aws
from fleet.cleanup.kinds.common import Found, delete_one, judge, orphan_ids
from fleet.cleanup.model import Orphan, Outcome, Target
from fleet.cleanup.tags import classify, tag_dict
from fleet.cleanup.waiting import batched, wait_until


def find_network_interfaces(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    instances = orphan_ids(found, "instance")
    for eni in aws.pages(aws.ec2, "describe_network_interfaces", "NetworkInterfaces", MaxResults=1000):
        verdict = classify(tag_dict(eni.get("TagSet")), target.cluster, "network-interface")
        name = eni.get("Description") or eni.get("InterfaceType") or ""
        attached_to = (eni.get("Attachment") or {}).get("InstanceId")
        blocker = None
        if eni.get("RequesterManaged"):
            blocker = "managed by an AWS service; it goes away with its owner"
        elif eni.get("Status") != "available" and attached_to in instances and verdict.ours:
            # Detached when the orphan instance terminates; the deleter waits for that first.
            reason = f"{verdict.reason}; on orphan instance {attached_to}, deleted after it terminates"
            yield Orphan("network-interface", eni["NetworkInterfaceId"], name, reason)
            continue
        elif eni.get("Status") != "available":
            blocker = f"in use ({eni.get('Status')}, attached to {attached_to or 'something'})"
        yield from judge("network-interface", eni["NetworkInterfaceId"], name, verdict, blocker)


def find_security_groups(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    for group in aws.pages(aws.ec2, "describe_security_groups", "SecurityGroups", MaxResults=1000):
        blocker = "a VPC's default group cannot be deleted" if group.get("GroupName") == "default" else None
        verdict = classify(tag_dict(group.get("Tags")), target.cluster, "security-group")
        yield from judge("security-group", group["GroupId"], group.get("GroupName", ""), verdict, blocker)


def find_elastic_ips(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    instances = orphan_ids(found, "instance")
    # DescribeAddresses has no pagination: one call returns every address in the region (limit is small).
    for address in aws.call(aws.ec2, "describe_addresses").get("Addresses", []):
        rid = address.get("AllocationId") or address.get("PublicIp", "")
        holder = address.get("AssociationId") or address.get("NetworkInterfaceId") or address.get("InstanceId")
        # An orphan instance's address is disassociated when the instance terminates, before it is released.
        blocker = f"associated ({holder})" if holder and address.get("InstanceId") not in instances else None
        verdict = classify(tag_dict(address.get("Tags")), target.cluster, "elastic-ip")
        yield from judge("elastic-ip", rid, address.get("PublicIp", ""), verdict, blocker)


def _not_yet_available(aws: Aws, ids: Sequence[str]) -> dict[str, str]:
    pending: dict[str, str] = {}
    for batch in batched(ids):
        filters = [{"Name": "network-interface-id", "Values": batch}]
        for eni in aws.pages(aws.ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=filters):
            if eni.get("Status") != "available":
                pending[eni["NetworkInterfaceId"]] = str(eni.get("Status"))
    return pending


def delete_network_interfaces(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    # ENIs of terminated orphan instances detach (or vanish with DeleteOnTermination) on AWS's schedule.
    wait_until(aws, "ENIs to detach", [o.id for o in orphans], lambda ids: _not_yet_available(aws, ids))
    for o in orphans:
        outcomes.append(
            delete_one(
                aws,
                aws.ec2,
                "delete_network_interface",
                o,
                "InvalidNetworkInterfaceID.NotFound",
                NetworkInterfaceId=o.id,
            )
        )


def _unlink_security_groups(aws: Aws, orphan_group_ids: set[str]) -> dict[str, str]:
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
                refs = [p for p in pairs if p.get("GroupId") in orphan_group_ids and p.get("GroupId") != gid]
                if not refs:
                    continue
                if gid not in orphan_group_ids:
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
            delete_one(
                aws,
                aws.ec2,
                "delete_security_group",
                o,
                "InvalidGroup.NotFound",
                ("DependencyViolation",),
                GroupId=o.id,
            )
        )


def release_elastic_ips(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            # InUse is retried: an orphan instance's address is disassociated a moment after it terminates.
            delete_one(
                aws,
                aws.ec2,
                "release_address",
                o,
                "InvalidAllocationID.NotFound",
                ("InvalidIPAddress.InUse",),
                AllocationId=o.id,
            )
        )
