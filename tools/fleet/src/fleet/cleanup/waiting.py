"""Waiting for AWS to finish something (instances terminating, ENIs detaching, load balancers going), with a
line on stderr whenever the picture changes, so a five-minute wait is never five minutes of silence.

boto3's waiters are silent, and one of them (`load_balancers_deleted`) reports success as soon as any one
load balancer of a batch is gone. Here the caller says how to read the current state of what it waits for,
and `wait_until` polls until nothing is pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from fleet.cleanup.aws import Aws, AwsError

# Reads the state of `ids` and returns {id: state} for those not yet where the caller wants them; an id that
# is gone or ready is simply left out.
PendingStates = Callable[[Sequence[str]], dict[str, str]]

BATCH = 100  # ids per Describe filter: AWS accepts up to 200 filter values; 100 keeps requests small


def wait_until(aws: Aws, what: str, ids: Sequence[str], pending_states: PendingStates) -> None:
    """Poll `pending_states(ids)` every `policy.waiter_delay` seconds until it is empty.

    Prints one line when waiting starts, one per change of state, and one when done. Raises AwsError (code
    WaiterTimeout) after `policy.waiter_attempts` polls, naming what is still pending.
    """
    if not ids:
        return
    started = time.monotonic()
    last: dict[str, str] | None = None
    for _ in range(aws.policy.waiter_attempts):
        pending = pending_states(ids)
        if not pending:
            if last:
                aws.progress(f"  {what}: done after {time.monotonic() - started:.0f} s")
            return
        if pending != last:
            aws.progress(f"  waiting for {what}: {_summary(pending)} ({len(pending)} of {len(ids)} pending)")
            last = pending
        aws.sleep(aws.policy.waiter_delay)
    still = pending_states(ids)
    if not still:
        return
    waited = aws.policy.waiter_delay * aws.policy.waiter_attempts
    raise AwsError(f"waiting for {what}", "WaiterTimeout", f"still {_summary(still)} after {waited} s")


def _summary(pending: dict[str, str]) -> str:
    shown = [f"{rid} {state}" for rid, state in sorted(pending.items())[:5]]
    more = f", and {len(pending) - 5} more" if len(pending) > 5 else ""
    return ", ".join(shown) + more


def batched(ids: Sequence[str], size: int = BATCH) -> list[list[str]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]
