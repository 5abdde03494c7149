"""What a node autoscaler (Karpenter) leaves when the cluster goes before its nodes: EC2 instances and the
launch templates they were started from. `tags.classify` accepts them only with Karpenter's own tags."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.kinds.common import Found, delete_one, judge
from fleet.cleanup.model import Orphan, Outcome, Target
from fleet.cleanup.tags import classify, tag_dict
from fleet.cleanup.waiting import batched, wait_until

# A terminated instance stays visible for about an hour; it is gone for every purpose cleanup has.
GONE_STATES = frozenset({"terminated"})


def find_instances(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    for reservation in aws.paginate(aws.ec2, "describe_instances", "Reservations"):
        for instance in reservation.get("Instances", []):
            state = instance.get("State", {}).get("Name", "?")
            if state in GONE_STATES:
                continue
            tags = tag_dict(instance.get("Tags"))
            name = f"{tags.get('Name') or instance.get('InstanceType', '?')} ({state})"
            verdict = classify(tags, target.cluster, "instance")
            yield from judge("instance", instance["InstanceId"], name, verdict)


def find_launch_templates(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    for template in aws.paginate(aws.ec2, "describe_launch_templates", "LaunchTemplates"):
        verdict = classify(tag_dict(template.get("Tags")), target.cluster, "launch-template")
        yield from judge(
            "launch-template", template["LaunchTemplateId"], template.get("LaunchTemplateName", ""), verdict
        )


def _not_yet_terminated(aws: Aws, ids: Sequence[str]) -> dict[str, str]:
    pending: dict[str, str] = {}
    for batch in batched(ids):
        filters = [{"Name": "instance-id", "Values": batch}]
        for reservation in aws.paginate(aws.ec2, "describe_instances", "Reservations", Filters=filters):
            for instance in reservation.get("Instances", []):
                state = instance.get("State", {}).get("Name", "?")
                if state not in GONE_STATES:
                    pending[instance["InstanceId"]] = state
    return pending


def terminate_instances(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    terminating: list[str] = []
    for o in orphans:
        try:
            outcome = delete_one(
                aws, aws.ec2, "terminate_instances", o, "InvalidInstanceID.NotFound", InstanceIds=[o.id]
            )
        except AwsError as exc:
            if exc.code != "OperationNotPermitted":
                raise
            why = "termination protection is on (DisableApiTermination); turn it off, then run cleanup again"
            outcomes.append(Outcome(o.kind, o.id, "blocked", why))
            continue
        if outcome.result == "deleted":
            outcome = Outcome(o.kind, o.id, "terminated")
            terminating.append(o.id)
        outcomes.append(outcome)
    # Their ENIs, volumes and addresses stay attached, and their security groups in use, until they are gone.
    wait_until(aws, "instances to terminate", terminating, lambda ids: _not_yet_terminated(aws, ids))


def delete_launch_templates(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            delete_one(
                aws, aws.ec2, "delete_launch_template", o, "InvalidLaunchTemplateId.NotFound", LaunchTemplateId=o.id
            )
        )
