"""The four keys, computed per environment over a time window from an EventLog. Pure: no I/O, `now` injected.

Definitions (docs/fleet.md repeats them):

- window: deployments with `now - window < deployed_at <= now`; events after `now` are ignored.
- deployment frequency: deployments with status `success` in the window, per day (rolled-back ones count:
  they reached production).
- lead time for changes: for each successful deployment, `deployed_at - commit time`, where the commit time is
  the deployment's `commit_at`, else the `commit` event with the same full sha; median and p90.
- change failure rate: failed deployments / deployments. A deployment failed if its status is `failure` or a
  rollback is attributed to it. A rollback that matches no deployment still counts as one failed deployment.
- time to restore: for each failed deployment, from its `deployed_at` to the first of: a rollback attributed
  to it, a `recovery` event, or the next successful deployment that did not fail itself; median and p90.

A rollback is attributed to the deployment named by `deployment_id`, else to the latest successful deployment
of the same environment (with the same sha, when the rollback names one) at or before the rollback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.dora.bands import band
from fleet.dora.events import Commit, Deployment, EventLog, Recovery, Rollback, event_time

_WINDOW = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_window(text: str) -> timedelta:
    """'30d' -> 30 days. Units: h (hours), d (days), w (weeks)."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {text!r} is not a positive number followed by h, d or w (e.g. 30d)")
    return int(match.group(1)) * _UNIT[match.group(2)]


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    # Rounded to a microsecond so 3 h + 0.7 x 22 h reads 66240.0, not 66240.00000000001.
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 6)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400

    def __contains__(self, moment: datetime) -> bool:
        return self.start < moment <= self.end


@dataclass(frozen=True)
class Distribution:
    median: float | None
    p90: float | None
    samples: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        return cls(quantile(values, 0.5), quantile(values, 0.9), len(values))


@dataclass
class EnvironmentMetrics:
    environment: str
    deployments: int
    successful: int
    failed: int
    rollbacks: int
    deployment_frequency_per_day: float
    lead_time: Distribution
    lead_time_unknown: int
    change_failure_rate: float | None
    time_to_restore: Distribution
    unrestored: int
    bands: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bands = {
            "deployment_frequency": band("deployment_frequency", self.deployment_frequency_per_day),
            "lead_time": band("lead_time", self.lead_time.median),
            "change_failure_rate": band("change_failure_rate", self.change_failure_rate),
            "time_to_restore": band("time_to_restore", self.time_to_restore.median),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "deployments": {
                "total": self.deployments,
                "successful": self.successful,
                "failed": self.failed,
                "rollbacks": self.rollbacks,
            },
            "deployment_frequency_per_day": self.deployment_frequency_per_day,
            "lead_time_seconds": {
                "median": self.lead_time.median,
                "p90": self.lead_time.p90,
                "samples": self.lead_time.samples,
                "unknown": self.lead_time_unknown,
            },
            "change_failure_rate": self.change_failure_rate,
            "time_to_restore_seconds": {
                "median": self.time_to_restore.median,
                "p90": self.time_to_restore.p90,
                "samples": self.time_to_restore.samples,
                "unrestored": self.unrestored,
            },
            "bands": self.bands,
        }


@dataclass
class DoraReport:
    window: Window
    environments: list[EnvironmentMetrics]

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "days": self.window.days,
            },
            "environments": {m.environment: m.to_json() for m in self.environments},
        }


def compute(log: EventLog, now: datetime, window: timedelta, environment: str | None = None) -> DoraReport:
    span = Window(now - window, now)
    events = [e for e in log.events if event_time(e) <= now]
    commits: dict[str, datetime] = {}
    for commit in (e for e in events if isinstance(e, Commit)):
        sha = commit.sha.lower()
        commits[sha] = min(commit.at, commits.get(sha, commit.at))
    names = {e.environment for e in events if isinstance(e, Deployment | Rollback)}
    if environment is not None:
        names = {environment}
    results = [
        _for_environment(
            name,
            [e for e in events if isinstance(e, Deployment) and e.environment == name],
            [e for e in events if isinstance(e, Rollback) and e.environment == name],
            [e for e in events if isinstance(e, Recovery) and e.environment == name],
            commits,
            span,
        )
        for name in sorted(names)
    ]
    return DoraReport(span, results)


def _attribute(rollback: Rollback, deployments: Sequence[Deployment]) -> Deployment | None:
    if rollback.deployment_id:
        return next((d for d in deployments if d.id == rollback.deployment_id), None)
    candidates = [d for d in deployments if d.status == "success" and d.deployed_at <= rollback.at]
    if rollback.sha:
        candidates = [d for d in candidates if d.sha and d.sha.lower() == rollback.sha.lower()]
    return candidates[-1] if candidates else None


def _for_environment(
    name: str,
    deployments: list[Deployment],
    rollbacks: list[Rollback],
    recoveries: list[Recovery],
    commits: dict[str, datetime],
    span: Window,
) -> EnvironmentMetrics:
    deployments = sorted(deployments, key=lambda d: d.deployed_at)
    rolled_back: dict[str, list[datetime]] = {}
    unattributed: list[Rollback] = []
    for rollback in rollbacks:
        target = _attribute(rollback, deployments)
        if target is None:
            unattributed.append(rollback)
        else:
            rolled_back.setdefault(target.id, []).append(rollback.at)
    failed_ids = {d.id for d in deployments if d.status == "failure"} | set(rolled_back)

    in_window = [d for d in deployments if d.deployed_at in span]
    orphan_rollbacks = [r for r in unattributed if r.at in span]
    successful = [d for d in in_window if d.status == "success"]
    total = len(in_window) + len(orphan_rollbacks)
    failed = sum(d.id in failed_ids for d in in_window) + len(orphan_rollbacks)

    lead_times: list[float] = []
    for deployment in successful:
        committed = deployment.commit_at or commits.get((deployment.sha or "").lower())
        # A commit "after" its deployment means inconsistent data (clock skew, reused sha): unknown, not negative.
        if committed is not None and committed <= deployment.deployed_at:
            lead_times.append((deployment.deployed_at - committed).total_seconds())

    restore_times: list[float] = []
    unrestored = 0
    for deployment in (d for d in in_window if d.id in failed_ids):
        start = deployment.deployed_at
        ends = [
            *rolled_back.get(deployment.id, []),
            *(r.at for r in recoveries if r.at >= start),
            *(
                d.deployed_at
                for d in deployments
                if d.deployed_at > start and d.status == "success" and d.id not in failed_ids
            ),
        ]
        if ends:
            restore_times.append((min(ends) - start).total_seconds())
        else:
            unrestored += 1

    return EnvironmentMetrics(
        environment=name,
        deployments=total,
        successful=len(successful),
        failed=failed,
        rollbacks=sum(r.at in span for r in rollbacks),
        deployment_frequency_per_day=len(successful) / span.days,
        lead_time=Distribution.of(lead_times),
        lead_time_unknown=len(successful) - len(lead_times),
        change_failure_rate=failed / total if total else None,
        time_to_restore=Distribution.of(restore_times),
        unrestored=unrestored,
    )
