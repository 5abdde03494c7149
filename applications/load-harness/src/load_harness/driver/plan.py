"""What to run: the mode, the target curve (stages), the request, and this shard's share of it.

The target (a rate in open loop, a concurrency in closed loop) is piecewise linear: it starts at `start_target`
and each stage ramps linearly to its own target over its duration (k6 semantics). A constant run is one stage
whose target equals the start. Open-loop send times come from integrating that rate exactly (`arrival_offsets`),
so a ramp is paced without per-step rounding drift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from load_harness import limits as L

Mode = Literal["open", "closed"]

# Possessive quantifiers: a digit run is read once and never re-split, so a long run without a unit fails in
# linear time (findall with plain `\d+` retried every suffix of the run: quadratic). ASCII digits only.
_DURATION_PART = re.compile(r"([0-9]++(?:\.[0-9]++)?)(ms|us|µs|s|m|h)")
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class PlanError(ValueError):
    """Invalid user input for a plan; the CLI turns it into a usage error (exit 2)."""


def parse_duration(text: str) -> float:
    """'30s', '1m30s', '500ms', '2h', or a bare number of seconds -> seconds (> 0). Linear in the length, which
    is capped at limits.DURATION_TEXT_MAX before any parsing."""
    if len(text) > L.DURATION_TEXT_MAX:
        raise PlanError(f"duration is {len(text)} characters long; at most {L.DURATION_TEXT_MAX} (e.g. 1m30s)")
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        seconds, position = 0.0, 0
        while position < len(text) or not text:
            part = _DURATION_PART.match(text, position)  # anchored at `position`: each character is read once
            if part is None:
                raise PlanError(f"bad duration {text!r}: use e.g. 30s, 1m30s, 500ms") from None
            seconds += float(part[1]) * _UNITS[part[2]]
            position = part.end()
    if not math.isfinite(seconds) or seconds <= 0:
        raise PlanError(f"duration must be positive: {text!r}")
    return seconds


@dataclass(frozen=True)
class Stage:
    duration_s: float
    target: float


def parse_stages(text: str) -> tuple[Stage, ...]:
    """'30s:100,60s:500,30s:0' -> stages; each ramps linearly from the previous target to its own."""
    stages = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if len(item) > L.STAGE_TEXT_MAX:
            raise PlanError(f"stage {item[:40]!r}… is {len(item)} characters long; at most {L.STAGE_TEXT_MAX}")
        duration, sep, target = item.partition(":")
        if not sep:
            raise PlanError(f"bad stage {item!r}: use DURATION:TARGET, e.g. 30s:100")
        try:
            value = float(target)
        except ValueError:
            raise PlanError(f"bad stage target {target!r} in {item!r}") from None
        if not math.isfinite(value) or value < 0:
            raise PlanError(f"stage target must be >= 0: {item!r}")
        stages.append(Stage(parse_duration(duration), value))
    if not stages:
        raise PlanError("--stages is empty")
    return tuple(stages)


def split_evenly(total: int, index: int, count: int) -> int:
    """Share `index` of `count` for an integer total; shares differ by at most one and add up to `total`."""
    return (total + count - 1 - index) // count


@dataclass(frozen=True)
class Plan:
    url: str
    mode: Mode
    start_target: float
    stages: tuple[Stage, ...]
    requests: int | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    timeout_s: float = 5.0
    max_in_flight: int = 1000
    max_burst: int | None = None  # None: max(10, 1 % of the current rate)
    insecure: bool = False
    shard_index: int = 0
    shards: int = 1

    @property
    def duration_s(self) -> float:
        """Length of the send window; infinite when only --requests bounds the run."""
        return sum(stage.duration_s for stage in self.stages)

    def for_shard(self, index: int, shards: int) -> Plan:
        """This run split `shards` ways; `index` says which share. Targets are split when they are used."""
        return replace(self, shard_index=index, shards=shards)

    def total_target_at(self, t: float) -> float:
        """The whole run's target (all shards together) at `t` seconds from the start."""
        previous, start = self.start_target, 0.0
        for stage in self.stages:
            if t < start + stage.duration_s:
                if math.isinf(stage.duration_s):
                    return stage.target
                return previous + (stage.target - previous) * (t - start) / stage.duration_s
            previous, start = stage.target, start + stage.duration_s
        return previous

    def concurrency_at(self, t: float) -> int:
        """Closed loop: this shard's number of concurrent request loops at `t`."""
        return split_evenly(round(self.total_target_at(t)), self.shard_index, self.shards)

    def rate_at(self, t: float) -> float:
        """Open loop: this shard's arrival rate at `t`."""
        return self.total_target_at(t) / self.shards

    @property
    def shard_requests(self) -> int | None:
        if self.requests is None:
            return None
        return split_evenly(self.requests, self.shard_index, self.shards)

    def arrival_offsets(self) -> Iterator[float]:
        """Open loop: this shard's send times (seconds from the start), from the exact integral of its rate.

        Shards are phase-shifted by index/shards of an interval so that together they interleave evenly.
        """
        scale = 1.0 / self.shards
        rate0 = self.start_target * scale
        t0 = 0.0
        need = self.shard_index / self.shards  # arrivals to accumulate before the next send
        for stage in self.stages:
            rate1 = stage.target * scale
            length = stage.duration_s
            if math.isinf(length):
                if rate1 <= 0:
                    return
                while True:
                    yield t0 + need / rate1
                    need += 1.0
            slope = (rate1 - rate0) / length
            total = rate0 * length + slope * length * length / 2
            while need <= total:
                # Solve rate0*s + slope*s^2/2 = need; this form is stable for slope near zero or negative.
                root = math.sqrt(max(rate0 * rate0 + 2 * slope * need, 0.0))
                denominator = rate0 + root
                yield t0 + (2 * need / denominator if denominator > 0 else 0.0)
                need += 1.0
            need -= total
            t0 += length
            rate0 = rate1

    def to_record(self) -> PlanRecord:
        """The plan as stored and sent (JSON-ready; infinite durations become None)."""
        duration = self.duration_s
        return PlanRecord(
            url=self.url,
            mode=self.mode,
            start_target=self.start_target,
            stages=[StageRecord(duration_s=_finite(s.duration_s), target=s.target) for s in self.stages],
            requests=self.requests,
            method=self.method,
            headers=[(name, value) for name, value in self.headers],
            body=self.body.decode("utf-8", "replace"),
            timeout_s=self.timeout_s,
            max_in_flight=self.max_in_flight,
            max_burst=self.max_burst,
            insecure=self.insecure,
            shard_index=self.shard_index,
            shards=self.shards,
            duration_s=_finite(duration),
        )

    @classmethod
    def from_record(cls, record: PlanRecord) -> Plan:
        return cls(
            url=record.url,
            mode=record.mode,
            start_target=record.start_target,
            stages=tuple(Stage(math.inf if s.duration_s is None else s.duration_s, s.target) for s in record.stages),
            requests=record.requests,
            method=record.method,
            headers=tuple(record.headers),
            body=record.body.encode(),
            timeout_s=record.timeout_s,
            max_in_flight=record.max_in_flight,
            max_burst=record.max_burst,
            insecure=record.insecure,
            shard_index=record.shard_index,
            shards=record.shards,
        )


def _finite(seconds: float) -> float | None:
    return None if math.isinf(seconds) else seconds


class StageRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_s: float | None  # None: unbounded (only --requests ends the run)
    target: float


class PlanRecord(BaseModel):
    """A Plan as JSON holds it: in the store's runs.plan, in every state and in the shard command line."""

    model_config = ConfigDict(extra="forbid")
    url: str
    mode: Mode
    start_target: float
    stages: list[StageRecord]
    requests: int | None = None
    method: str = "GET"
    headers: list[tuple[str, str]] = []
    body: str = ""
    timeout_s: float = 5.0
    max_in_flight: int = 1000
    max_burst: int | None = None
    insecure: bool = False
    shard_index: int = 0
    shards: int = 1
    duration_s: float | None = None  # derived (the stages' sum), kept for readers of the JSON


def constant_plan(url: str, mode: Mode, target: float, duration_s: float, **options: Any) -> Plan:
    """A run at one fixed rate or concurrency; `duration_s` may be math.inf when bounded by `requests`."""
    return Plan(url=url, mode=mode, start_target=target, stages=(Stage(duration_s, target),), **options)


def target_integral(plan: Plan, until: float) -> float:
    """∫ total target dt over [0, until]: expected arrivals of the whole run in open loop."""
    total, previous, start = 0.0, plan.start_target, 0.0
    for stage in plan.stages:
        end = min(start + stage.duration_s, until)
        if end <= start:
            break
        span = end - start
        at_end = plan.total_target_at(end) if end < start + stage.duration_s else stage.target
        total += (previous + at_end) / 2 * span
        previous, start = stage.target, start + stage.duration_s
    return total
