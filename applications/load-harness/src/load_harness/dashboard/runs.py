"""The dashboard's driver runs: the records the run pages render (runs_data.py fills them from runs.service and
runs.view), the run the Cluster Load form builds (cluster.py), and the form's stage presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypedDict

from load_harness.runs.model import ACTIVE_STATUSES, RunStatus

# The history's status filter. Not `pending`: a run is pending only until a supervisor or a shard starts it.
RUN_STATUSES: tuple[RunStatus, ...] = tuple(status for status in RunStatus if status is not RunStatus.PENDING)
ACTIVE_RUN_STATUSES = ACTIVE_STATUSES


class StageBody(TypedDict):
    duration_s: float
    target: float  # a whole number in closed loop


class RunBody(TypedDict):
    """The form's run (cluster.parse_run_form), before cluster.spec_for makes it a RunSpec."""

    name: str | None
    url: str | None  # None: this service's own /load/cpu/work
    mode: str  # "open" (rate) | "closed" (concurrency)
    start_target: float
    stages: list[StageBody]
    work: dict[str, float]  # {"cpu_ms": 5.0} or {"iterations": 20000}
    thresholds: list[str]
    preset: str


@dataclass(frozen=True)
class RunLimits:
    """Server-side bounds of a run, from runs.service.bounds() (limits.py); the form shows and checks them."""

    rate_max: float
    concurrency_max: int
    duration_min_s: float
    duration_max_s: float


@dataclass(frozen=True)
class RunSummary:
    id: str
    name: str
    status: str
    mode: str  # "open" (rate) | "closed" (concurrency)
    url: str
    target: float  # the peak rate or concurrency asked for
    created_at: float
    duration_s: float | None
    finished_at: float | None = None
    expires_at: float | None = None  # when a running run's send window ends
    requests: int = 0
    errors: int = 0
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    thresholds_passed: bool | None = None

    @property
    def error_pct(self) -> float | None:
        return None if not self.requests else 100.0 * self.errors / self.requests


@dataclass(frozen=True)
class RunPoint:
    """One second of a run."""

    t: float  # seconds since the run started
    sent: int
    completed: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class PodShare:
    pod: str
    requests: int
    errors: int
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class Threshold:
    expression: str  # e.g. "p99<500ms"
    passed: bool | None
    observed: str = ""


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    series: list[RunPoint] = field(default_factory=list)
    # Latency bins (low ms, high ms, count): `count` responses took low ≤ t < high; contiguous, ascending.
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    pods: list[PodShare] = field(default_factory=list)
    status_codes: dict[str, int] = field(default_factory=dict)  # "200" → count; "connect", "timeout" for errors
    percentiles_ms: dict[str, float] = field(default_factory=dict)  # "p50", "p90", "p99", "p99.9", "max"
    thresholds: list[Threshold] = field(default_factory=list)
    dropped: int = 0  # open loop: requests that could not be sent on time


# --- stage presets ---------------------------------------------------------------------------------------

PRESETS = {
    "constant": "Constant: the target from start to end",
    "ramp-up": "Ramp-up: 0 to the target over the first quarter, then hold",
    "step": "Step: a quarter of the target, then half, three quarters and all of it",
    "spike": "Spike: a fifth of the target, a sudden spike to the target, then back",
    "soak": "Soak: a gentle one-minute ramp, then hold for a long time",
}
SOAK_RAMP_S = 60.0


def stages_for(preset: str, target: float, duration_s: float) -> tuple[float, list[tuple[float, float]]]:
    """(start target, [(stage duration, stage target)]): each stage ramps linearly from the previous target
    (the driver's k6-style stages). Durations add up to `duration_s`."""
    d, t = duration_s, target
    edge = min(1.0, d / 20)  # a jump is a very short ramp
    if preset == "ramp-up":
        return 0.0, [(d / 4, t), (d - d / 4, t)]
    if preset == "step":
        quarter = d / 4
        stages: list[tuple[float, float]] = [(quarter, t / 4)]
        for k in (2, 3, 4):
            stages += [(edge, t * k / 4), (quarter - edge, t * k / 4)]
        return t / 4, stages
    if preset == "spike":
        low = t / 5
        return low, [(0.4 * d, low), (edge, t), (0.2 * d - edge, t), (edge, low), (0.4 * d - edge, low)]
    if preset == "soak":
        ramp = min(SOAK_RAMP_S, d / 10)
        return 0.0, [(ramp, t), (d - ramp, t)]
    return t, [(d, t)]


def curve_points(start: float, stages: list[tuple[float, float]], width: int = 300, height: int = 60) -> str:
    """The target curve as an SVG polyline `points` attribute, scaled into width × height."""
    total = sum(s for s, _ in stages) or 1.0
    peak = max([start, *(v for _, v in stages)]) or 1.0
    t, points = 0.0, [(0.0, start)]
    for length, value in stages:
        t += length
        points.append((t, value))

    def scale(x: float, y: float) -> str:
        return f"{x / total * width:.1f},{height - y / peak * (height - 4) - 2:.1f}"

    return " ".join(scale(x, y) for x, y in points)


def describe_stages(start: float, stages: list[tuple[float, float]]) -> str:
    parts, previous = [], start
    for length, value in stages:
        span = f"{length:g} s" if length < 120 else f"{length / 60:.3g} min"
        if math.isclose(value, previous):
            parts.append(f"hold {value:g} for {span}")
        else:
            parts.append(f"{previous:g}→{value:g} over {span}")
        previous = value
    return ", ".join(parts)
