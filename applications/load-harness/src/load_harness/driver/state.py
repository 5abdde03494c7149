"""The driver's typed records: what a shard reports (`DriverState`), what a person reads (`Summary`), and why a run
ended (`StopReason`). JSON exists only at the edges (the store, `--json`, the API): `model_dump(mode="json")` out,
`model_validate` in. The field names are the JSON the store and the API have always held, so stored rows of earlier
versions still validate.

A state is cumulative and mergeable: counters and histograms add exactly (summary.merge), so the merge of every
shard's state equals one process having done all the work. HDR histograms travel as base64 compressed
HdrHistogram payloads (µs, 1 µs–60 s, 3 significant digits; driver/histo.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from load_harness.driver.plan import PlanRecord, StageRecord

STATE_FORMAT: Literal["load-harness/driver-state@1"] = "load-harness/driver-state@1"
SERIES_FIELDS = ("t", "sent", "completed", "errors", "p50_us", "p99_us")


class StopReason(StrEnum):
    """Why the send window closed. A merge reports the most severe reason of its parts (the order below)."""

    ABORTED = "aborted"  # the target was unreachable from the start
    INTERRUPTED = "interrupted"  # a signal (Ctrl-C, SIGTERM, a shut-down server)
    STOPPED = "stopped"  # a stop request (API, dashboard, the sink)
    REQUESTS = "requests"  # --requests was reached
    COMPLETED = "completed"  # the plan's duration ran out


class Record(BaseModel):
    # Unknown fields are refused, so a misspelt key in a stored state fails loudly instead of reading as zero.
    model_config = ConfigDict(extra="forbid")


class ShardSet(Record):
    count: int  # how many shares the run was split into
    indices: list[int]  # which of them this state includes


class Connections(Record):
    opened: int = 0
    reconnects: int = 0


class Counters(Record):
    scheduled: int = 0  # open loop: arrivals the schedule produced (minus those withdrawn by a stop)
    sent: int = 0
    completed: int = 0  # answered, failed or timed out
    responses: int = 0  # answered with any HTTP status
    errors: int = 0
    sent_late: int = 0  # sent more than 10 ms after the scheduled time
    dropped_late: int = 0
    dropped_max_in_flight: int = 0

    def total_dropped(self) -> int:
        return self.dropped_late + self.dropped_max_in_flight


class LatencyData(Record):
    response: str  # HDR: from the scheduled send in open loop (corrected); equal to service in closed loop
    service: str  # HDR: from the actual send
    max_response_us: int
    max_service_us: int


class PodCounts(Record):
    count: int
    errors: int
    service: str  # HDR of the service time of this pod's answers


class SeriesData(Record):
    """One point per `interval_s` seconds: [t, sent, completed, errors, p50_us, p99_us], t an epoch second."""

    interval_s: int = 1
    fields: list[str] = Field(default_factory=lambda: list(SERIES_FIELDS))
    points: list[list[int]] = Field(default_factory=list)


class Measurements(Record):
    """The part of a state the recorder fills (driver/recorder.py)."""

    counters: Counters
    status_codes: dict[str, int]
    error_classes: dict[str, int]  # connect, timeout, 4xx, 5xx, other
    error_details: dict[str, int]  # e.g. ConnectionRefusedError, Timeout (at most 32 names + "(other)")
    latency: LatencyData
    pods: dict[str, PodCounts]  # at most 256 names + "(other)"
    series: SeriesData


class DriverState(Measurements):
    """What one shard (or a merge of shards) reports about a run, about once a second and at the end."""

    format: Literal["load-harness/driver-state@1"] = STATE_FORMAT
    run_id: str | None
    shards: ShardSet
    plan: PlanRecord  # the whole run's plan (targets before splitting)
    started_at: float  # epoch seconds of the first scheduled send (the earliest, in a merge)
    updated_at: float  # epoch seconds of this snapshot
    duration_s: float  # the send window so far (a merge: latest end minus earliest start)
    finished: bool  # a merge: every part finished
    stop_reason: StopReason | None  # None while running
    message: str | None  # why it stopped early
    in_flight: int
    connections: Connections


class RunMeta(Record):
    """What a sink learns once, before the first request."""

    run_id: str | None
    shard_index: int
    shards: int
    plan: PlanRecord
    started_at: float
    host: str
    pid: int


# -- the summary ----------------------------------------------------------------------------------------------


class LatencyStats(Record):
    """Milliseconds. Percentiles never exceed the exact maximum (HDR reports the top of a value's bucket)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)
    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float = Field(alias="p99.9")
    max: float
    min: float
    mean: float

    def value(self, name: str) -> float:
        """A statistic by its threshold name: p50 … p99.9, max, min, mean."""
        return float(getattr(self, "p99_9" if name == "p99.9" else name))


LATENCY_STATS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")


class LatencyReport(Record):
    corrected: bool  # open loop: response time counts from the scheduled send
    note: str
    response: LatencyStats
    service: LatencyStats


class RequestCounts(Counters):
    dropped: int = 0  # the two drop counters together
    in_flight: int = 0
    error_rate_pct: float = 0.0
    dropped_pct: float = 0.0


class Throughput(Record):
    sent_rps: float
    completed_rps: float
    target_rps: float | None = None  # open loop only
    pacing_error_pct: float | None = None  # open loop only: (sent - owed) / owed


class TargetCurve(Record):
    kind: Literal["rate", "concurrency"]
    start: float
    stages: list[StageRecord]


class PodRow(Record):
    pod: str
    count: int
    share_pct: float
    errors: int
    p50_ms: float
    p99_ms: float


class Summary(Record):
    """The human-facing figures of a run (what `--json` prints and GET /runs/{id} shows)."""

    run_id: str | None
    url: str
    method: str
    mode: Literal["open", "closed"]
    target: TargetCurve
    shards: int
    started_at: float
    duration_s: float
    finished: bool
    stop_reason: StopReason | None
    message: str | None
    requests: RequestCounts
    throughput: Throughput
    latency_ms: LatencyReport
    status_codes: dict[str, int]
    error_classes: dict[str, int]
    error_details: dict[str, int]
    pods: list[PodRow]
    connections: Connections
    series: SeriesData
