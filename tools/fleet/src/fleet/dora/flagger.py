"""Turn Flagger's Kubernetes events into DORA rollback events.

Input: `kubectl get events -A --field-selector involvedObject.kind=Canary -o json`.

Flagger records, for every rolled-back rollout, a Warning "Canary failed! Scaling down NAME.NAMESPACE" right
after routing all traffic back to the primary; that event is the rollback (and its time the moment service
was restored). The preceding "Rolling back NAME.NAMESPACE failed checks threshold reached N" (or "progress
deadline exceeded") event gives the reason. Kubernetes keeps events for one hour by default, so collect them
right after a rollout (e.g. in the deploy job's bake step) or forward them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.dora.events import EventsError, Rollback
from fleet.dora.github import Conversion, build, read_gh_json

FAILED_PREFIX = "Canary failed!"
REASON_PREFIX = "Rolling back "


def _when(event: dict[str, Any]) -> str | None:
    meta = event.get("metadata") or {}
    found = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or meta.get("creationTimestamp")
    )
    return str(found) if found else None


def from_kubectl_events(events_file: Path, environment: str) -> Conversion:
    out = Conversion()
    items: list[dict[str, Any]] = []
    for document in read_gh_json(events_file):
        if not isinstance(document, dict):
            raise EventsError(f"{events_file}: expected `kubectl get events -o json` output")
        items.extend(document.get("items", [document]) if "items" in document else [document])
    canary_events = [e for e in items if (e.get("involvedObject") or {}).get("kind") == "Canary"]
    reasons: dict[str, str] = {}
    for event in sorted(canary_events, key=lambda e: _when(e) or ""):
        obj = event["involvedObject"]
        target = f"{obj.get('namespace', '')}/{obj.get('name', '')}"
        message = str(event.get("message", ""))
        if message.startswith(REASON_PREFIX):
            reasons[target] = message
        if event.get("type") != "Warning" or not message.startswith(FAILED_PREFIX):
            continue
        when = _when(event)
        if when is None:
            out.skipped.append(f"{target}: event without a timestamp")
            continue
        if int(event.get("count") or 1) > 1:
            out.skipped.append(f"{target}: {event['count']} identical events folded into one rollback")
        out.events.append(
            build(
                Rollback,
                f"{events_file}: {target}",
                type="rollback",
                source="flagger",
                at=when,
                environment=environment,
                target=target,
                id=(event.get("metadata") or {}).get("uid"),
                detail=reasons.pop(target, message),
            )
        )
    return out
