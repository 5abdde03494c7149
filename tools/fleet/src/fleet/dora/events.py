"""The DORA event format: the one input every metric is computed from, and every adapter writes.

A file is `{"version": 1, "events": [...]}`. Each event has a `type`:

- `deployment`: one attempt to change an environment, finished as `success` or `failure`;
- `commit`: when a commit was made, so a deployment's lead time can be found from its `sha`;
- `rollback`: a deployment undone (Flagger canary analysis failing, or a manual rollback);
- `recovery`: service restored without a new deployment (e.g. an incident closed).

Every timestamp must carry a timezone; unknown fields are errors, so a typo fails instead of being ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

NonEmpty = Annotated[str, Field(min_length=1)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Commit(_Event):
    type: Literal["commit"]
    sha: NonEmpty
    at: AwareDatetime = Field(description="Commit time (GitHub: commit.committer.date).")


class Deployment(_Event):
    type: Literal["deployment"]
    id: NonEmpty = Field(description="Unique per deployment, e.g. gh-deployment-123 or gh-run-456.")
    environment: NonEmpty = "production"
    status: Literal["success", "failure"]
    deployed_at: AwareDatetime = Field(description="When the deployment finished (succeeded or failed).")
    sha: str | None = Field(None, description="Deployed commit; joins `commit` events for lead time.")
    commit_at: AwareDatetime | None = Field(None, description="Commit time, when the source knows it.")
    source: str | None = Field(None, description="Where it came from: github-deployments, github-actions, ...")
    url: str | None = None

    @model_validator(mode="after")
    def _commit_before_deploy(self) -> Deployment:
        if self.commit_at is not None and self.commit_at > self.deployed_at:
            raise ValueError("commit_at is after deployed_at")
        return self


class Rollback(_Event):
    type: Literal["rollback"]
    at: AwareDatetime = Field(description="When traffic went back to the previous version.")
    environment: NonEmpty = "production"
    source: NonEmpty = "flagger"
    target: str | None = Field(None, description="What was rolled back, e.g. apps/load-harness (Flagger canary).")
    deployment_id: str | None = Field(None, description="The deployment undone, when known.")
    sha: str | None = Field(None, description="The commit undone, when known.")
    id: str | None = None
    detail: str | None = None


class Recovery(_Event):
    type: Literal["recovery"]
    at: AwareDatetime
    environment: NonEmpty = "production"
    id: str | None = None
    detail: str | None = None


Event = Annotated[Commit | Deployment | Rollback | Recovery, Field(discriminator="type")]


class EventLog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    events: list[Event]

    def of_type(self, kind: type[_Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class EventsError(ValueError):
    """A file that is not valid event JSON. The message names the file and the exact field."""


_TYPE_TAGS = frozenset({"commit", "deployment", "rollback", "recovery"})


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """('events', 3, 'deployment', 'deployed_at') -> "events[3].deployed_at (deployment 'gh-1')"."""
    if len(loc) < 2 or loc[0] != "events" or not isinstance(loc[1], int):
        return ".".join(str(part) for part in loc) or "(top level)"
    index, rest = loc[1], list(loc[2:])
    if rest and rest[0] in _TYPE_TAGS:
        rest = rest[1:]  # pydantic names the union member it tried; the label below says it more plainly
    where = f"events[{index}]" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    events = data.get("events") if isinstance(data, dict) else None
    event = events[index] if isinstance(events, list) and index < len(events) else None
    if isinstance(event, dict):
        label = event.get("id") or event.get("sha")
        where += f" ({event.get('type', '?')}{f' {label!r}' if label else ''})"
    return where


def parse_events(data: Any, source: str = "<events>") -> EventLog:
    try:
        return EventLog.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_where(tuple(e['loc']), data)}: {e['msg']}" for e in exc.errors()]
        raise EventsError("\n".join(lines)) from None


def load_events(paths: Iterable[Path]) -> EventLog:
    """Read and merge event files. The same deployment (by id) may appear in two files only if identical."""
    merged: list[Any] = []
    seen: dict[tuple[str, str], Any] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise EventsError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise EventsError(f"{path}: not JSON: {exc}") from None
        for event in parse_events(data, str(path)).events:
            key = _identity(event)
            if key in seen:
                if seen[key] != event:
                    raise EventsError(f"{path}: {key[0]} {key[1]!r} also appears, differently, in an earlier file")
                continue
            if key[1]:
                seen[key] = event
            merged.append(event)
    return EventLog(events=merged)


def _identity(event: Any) -> tuple[str, str]:
    if isinstance(event, Deployment):
        return ("deployment", event.id)
    if isinstance(event, Commit):
        return ("commit", event.sha)
    return (event.type, event.id or "")


def dump_events(events: Iterable[Any]) -> str:
    """Serialize events to the documented JSON, sorted by time so files diff well."""
    ordered = sorted(events, key=event_time)
    log = EventLog(events=ordered)
    return json.dumps(log.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def event_time(event: Any) -> datetime:
    value: datetime = event.deployed_at if isinstance(event, Deployment) else event.at
    return value


def json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(EventLog).json_schema()
    return schema
