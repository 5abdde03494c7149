"""The vocabulary of a stored run: its status and where it came from, defined once.

StrEnum members are the strings the store has always held (`runs.status`, `runs.source` are plain VARCHARs with
no CHECK constraint), so rows written before these enums existed read back unchanged and no migration is needed;
a member compares equal to its string, so code that still passes "running" keeps working."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel


class RunStatus(StrEnum):
    PENDING = "pending"  # stored, not yet started by a supervisor or a shard
    RUNNING = "running"  # at least one shard has started
    COMPLETED = "completed"
    STOPPED = "stopped"  # a stop was requested and the shards honoured it
    FAILED = "failed"  # aborted, or a shard went silent
    INTERRUPTED = "interrupted"  # the process that ran it died, or a signal ended it

    @property
    def active(self) -> bool:
        return self in ACTIVE_STATUSES


# A run holds its pod's budget and its dedupe key while in one of these; every other status is final.
ACTIVE_STATUSES: tuple[RunStatus, ...] = (RunStatus.PENDING, RunStatus.RUNNING)
FINAL_STATUSES: tuple[RunStatus, ...] = tuple(status for status in RunStatus if status not in ACTIVE_STATUSES)


class RunOrigin(StrEnum):
    """Which way in started the run (`runs.source`)."""

    API = "api"
    DASHBOARD = "dashboard"
    CLI = "cli"
    FLAGGER = "flagger"


class RunOptions(BaseModel):
    """What a run keeps beside its plan (`runs.options`): the thresholds it is judged by, where its shards run,
    and the labels each way in adds."""

    thresholds: list[str] = []
    placement: Literal["local", "external", "cli"] = "local"  # cli: the shards of `drive --save`
    name: str | None = None  # the dashboard's name for the run
    preset: str | None = None  # the dashboard's stage preset
    canary: str | None = None  # Flagger: name.namespace of the Canary
    dedupe: str | None = None  # an active run holding this key is not repeated (Flagger's webhook)
