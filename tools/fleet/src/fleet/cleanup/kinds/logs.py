"""CloudWatch log groups: the cluster's control-plane group by its name, and any group tagged for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fleet.cleanup.aws import Aws
from fleet.cleanup.kinds.common import Found, delete_one, judge
from fleet.cleanup.model import Orphan, Outcome, Skipped, Target
from fleet.cleanup.tags import classify


def control_plane_log_group(cluster: str) -> str:
    """The group EKS writes control-plane logs to; EKS does not tag it and does not delete it."""
    return f"/aws/eks/{cluster}/cluster"


def find_log_groups(aws: Aws, target: Target, found: Sequence[Orphan]) -> Iterator[Found]:
    own_name = control_plane_log_group(target.cluster)
    for group in aws.paginate(aws.logs, "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        # ListTagsForResource wants the ARN without the ":*" that DescribeLogGroups' `arn` field ends with.
        arn = group.get("logGroupArn") or str(group.get("arn", "")).removesuffix(":*")
        tags: dict[str, str] = aws.call(aws.logs, "list_tags_for_resource", resourceArn=arn).get("tags", {})
        verdict = classify(tags, target.cluster, "log-group")
        if name == own_name and verdict.refusal:
            yield Skipped("log-group", name, name, verdict.refusal)
        elif name == own_name:
            why = f"{verdict.reason}; " if verdict.reason else ""
            yield Orphan("log-group", name, name, f"{why}named as EKS names the cluster's control-plane logs")
        else:
            yield from judge("log-group", name, name, verdict)


def delete_log_groups(aws: Aws, orphans: Sequence[Orphan], outcomes: list[Outcome]) -> None:
    for o in orphans:
        outcomes.append(
            delete_one(aws, aws.logs, "delete_log_group", o, "ResourceNotFoundException", logGroupName=o.id)
        )
