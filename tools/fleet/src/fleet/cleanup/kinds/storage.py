"""EBS volumes and the account's own EBS snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.kinds.common import Found, delete_one, judge, orphan_ids
from fleet.cleanup.model import Orphan, Outcome, Target
from fleet.cleanup.tags import classify, tag_dict
from fleet.cleanup.waiting import batched, wait_until


def find_volumes(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    instances = orphan_ids(found, "instance")
    for volume in aws.pages(aws.ec2, "describe_volumes", "Volumes", MaxResults=500):
        tags = tag_dict(volume.get("Tags"))
        holders = [a.get("InstanceId", "?") for a in volume.get("Attachments", [])]
        blocker = None
        # A volume attached only to orphan instances is freed when they terminate; the deleter waits for it.
        if volume.get("State") != "available" and not (holders and set(holders) <= instances):
            blocker = f"{volume.get('State')}" + (f", attached to {', '.join(holders)}" if holders else "")
        verdict = classify(tags, target.cluster, "volume")
        name = tags.get("Name") or f"{volume.get('Size', '?')} GiB {volume.get('VolumeType', '')}".strip()
        yield from judge("volume", volume["VolumeId"], name, verdict, blocker)


def find_snapshots(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    # OwnerIds=self: without it EC2 also lists every public snapshot and every one shared with the account,
    # which this account must never try to delete.
    for snapshot in aws.paginate(aws.ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"], MaxResults=1000):
        tags = tag_dict(snapshot.get("Tags"))
        blocker = "still being created (pending)" if snapshot.get("State") == "pending" else None
        name = tags.get("Name") or f"{snapshot.get('VolumeSize', '?')} GiB of {snapshot.get('VolumeId', '?')}"
        verdict = classify(tags, target.cluster, "snapshot")
        yield from judge("snapshot", snapshot["SnapshotId"], name, verdict, blocker)


def _volume_states(aws: Aws, ids: Sequence[str], ready: str | None) -> dict[str, str]:
    """{id: state} of the volumes that still exist and are not in state `ready` (None: any state pends)."""
    pending: dict[str, str] = {}
    for batch in batched(ids):
        filters = [{"Name": "volume-id", "Values": batch}]
        for volume in aws.pages(aws.ec2, "describe_volumes", "Volumes", Filters=filters):
            if volume.get("State") != ready:
                pending[volume["VolumeId"]] = str(volume.get("State"))
    return pending


def delete_volumes(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    ids = [o.id for o in orphans]
    wait_until(aws, "volumes to detach", ids, lambda batch: _volume_states(aws, batch, "available"))
    for o in orphans:
        outcomes.append(delete_one(aws, aws.ec2, "delete_volume", o, "InvalidVolume.NotFound", VolumeId=o.id))
    wait_until(aws, "volumes to be deleted", ids, lambda batch: _volume_states(aws, batch, None))


def delete_snapshots(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        try:
            outcomes.append(delete_one(aws, aws.ec2, "delete_snapshot", o, "InvalidSnapshot.NotFound", SnapshotId=o.id))
        except AwsError as exc:
            if exc.code != "InvalidSnapshot.InUse":
                raise
            # A registered AMI is built on it: deregistering an image is not cleanup's call.
            outcomes.append(Outcome(o.kind, o.id, "blocked", "in use by a registered AMI; deregister the image first"))
