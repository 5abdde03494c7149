"""Wait until the deleted objects are gone from the API and their AWS resources from the account.

Each poll asks both sides; a line goes to stderr for every change (an object or resource gone, a pod found
holding a PVC) and a heartbeat line at least every HEARTBEAT seconds, so a long wait is never silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fleet.cleanup.aws import Aws
from fleet.predestroy.aws_wait import still_there
from fleet.predestroy.kube import Kube, still_present
from fleet.predestroy.model import AwsResource, Target

HEARTBEAT = 30.0


@dataclass
class WaitResult:
    remaining: list[Target] = field(default_factory=list)
    remaining_aws: list[AwsResource] = field(default_factory=list)
    timed_out: bool = False
    waited: float = 0.0


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def wait_until_gone(
    kube: Kube,
    aws: Aws,
    targets: list[Target],
    timeout: float,
    poll_interval: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll until nothing is left or `timeout` seconds have passed; a timeout of 0 checks exactly once."""
    start = clock()
    objects = list(targets)
    resources = [r for t in targets for r in t.aws]
    holders: dict[str, list[str]] = {}
    last_line = start
    while True:
        if objects:
            present = still_present(kube, objects)
            keys = {t.label for t in present}
            for gone in (t for t in objects if t.label not in keys):
                say(f"gone: {gone.label}")
            for target in present:
                if target.held_by and holders.get(target.label) != target.held_by:
                    say(f"{target.label} is held by pod(s) {', '.join(target.held_by)} (pvc-protection)")
                holders[target.label] = target.held_by
            objects = present
        if resources:
            left = still_there(aws, resources)
            ids = {r.id for r in left}
            for gone_resource in (r for r in resources if r.id not in ids):
                say(f"gone: {gone_resource.kind} {gone_resource.name} ({gone_resource.owner})")
            resources = left
        now = clock()
        if not objects and not resources:
            return WaitResult(waited=now - start)
        if now - start >= timeout:
            return WaitResult(objects, resources, timed_out=True, waited=now - start)
        if now - last_line >= HEARTBEAT:
            say(
                f"waiting ({_elapsed(now - start)} of {_elapsed(timeout)}): {len(objects)} Kubernetes object(s),"
                f" {len(resources)} AWS resource(s) left"
            )
            last_line = now
        sleep(max(0.0, min(poll_interval, timeout - (now - start))))
