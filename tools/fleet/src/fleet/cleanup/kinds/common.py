"""What every kind's finder and deleter share: their signatures, the tag verdict -> record step, and one
delete call that treats "not found" as the goal reached."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fleet.cleanup.aws import Aws, AwsError
from fleet.cleanup.model import Orphan, Outcome, Skipped, Target
from fleet.cleanup.tags import Verdict

Found = Orphan | Skipped
# A finder gets the AWS access, what to clean, and the orphans found so far (listeners are found through
# their load balancers, an instance's ENIs through the instance), and yields records.
Finder = Callable[[Aws, Target, Sequence[Orphan]], Iterator[Found]]
Deleter = Callable[[Aws, Sequence[Orphan], list[Outcome]], None]


def judge(kind: str, rid: str, name: str, verdict: Verdict, blocker: str | None = None) -> Iterator[Found]:
    """Turn a tag verdict plus a state check (`blocker`, e.g. "in use") into at most one record."""
    if not verdict.mentions_cluster:
        return
    if verdict.refusal:
        yield Skipped(kind, rid, name, verdict.refusal)
    elif blocker:
        yield Skipped(kind, rid, name, blocker)
    else:
        yield Orphan(kind, rid, name, str(verdict.reason))


def delete_one(
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


def orphan_ids(found: Sequence[Orphan], kind: str) -> set[str]:
    return {o.id for o in found if o.kind == kind}
