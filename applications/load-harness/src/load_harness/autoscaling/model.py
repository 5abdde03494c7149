"""The autoscaling report as the API returns it (GET /runs/{id}/autoscaling) and the HTML export renders it.

Times are Unix seconds (UTC), like the cluster timeline's; `*_s` fields are durations in seconds. A value is None
when the data it needs is missing, and `missing` says which part is missing and why."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from load_harness.observe.timeline import Point


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Rules(Frozen):
    """The definitions the report applied (compute.py), so a reader can check every figure."""

    hpa_tolerance: float = Field(description="The HPA's tolerance: above target means above target × (1 + this)")
    steady_rate_tolerance_pct: float = Field(description="Achieved within this percent of offered counts as keeping up")
    steady_steps: int = Field(description="Steps of calm (rate kept up, replicas unchanged) that make a steady state")
    step_seconds: float = Field(description="The step of the timeline and of every per-step figure")


class RunSeries(Frozen):
    """The run's own per-second figures (from the store), per second even when the driver merged buckets."""

    offered_rps: list[Point] = Field(default_factory=list, description="Requests the driver sent per second")
    achieved_rps: list[Point] = Field(default_factory=list, description="Answers without error per second")
    p50_ms: list[Point] = Field(default_factory=list)
    p99_ms: list[Point] = Field(default_factory=list)


class PodCpuPercent(Frozen):
    """One pod's CPU as a percent of its request (cores when the request is unknown: `unit` says which)."""

    pod: str
    unit: str
    points: list[Point] = Field(default_factory=list)


class ClusterSeries(Frozen):
    replicas_current: list[Point] = Field(default_factory=list)
    replicas_desired: list[Point] = Field(default_factory=list)
    pod_cpu: list[PodCpuPercent] = Field(default_factory=list)
    average_cpu_percent: list[Point] = Field(default_factory=list, description="Pod-average CPU, % of request")


class Reaction(Frozen):
    """One scale-up: the first step above target since the previous decision, the decision, the new pods ready."""

    from_replicas: int
    to_replicas: int
    first_above_target_at: float | None
    decision_at: float
    decision_source: str = Field(description="'event SuccessfulRescale' or 'replicas_desired'")
    pod_ready_at: float | None
    ready_source: str | None = Field(description="'pod ready_at' or 'replicas_current', None when not ready")
    above_to_decision_s: float | None
    decision_to_ready_s: float | None
    above_to_ready_s: float | None


class StageSteadiness(Frozen):
    """When one driver stage reached a steady state, counted from the stage's start."""

    index: int
    starts_at: float
    ends_at: float
    target: float
    steady_at: float | None
    steady_state_after_s: float | None
    note: str = ""


class Prices(Frozen):
    vcpu_hour_usd: float = Field(ge=0)
    gb_hour_usd: float = Field(ge=0, description="Per GiB of memory per hour")
    pod_memory_gb: float | None = Field(None, ge=0, description="Memory each pod requests, GiB; None: not charged")
    basis: str = Field(description="Where the prices come from")


class Cost(Frozen):
    """What the run cost the cluster: the resources the pods reserved (requests × time), and the CPU they used."""

    cpu_seconds: float | None = Field(description="CPU the pods used (∫ cores dt)")
    pod_hours: float | None = Field(description="Pod lifetime inside the run's window")
    pod_hours_source: str | None
    vcpu_hours_reserved: float | None
    gb_hours_reserved: float | None
    cost_usd: float | None = Field(description="vCPU-hours × vCPU price + GiB-hours × GiB price")
    cpu_used_cost_usd: float | None = Field(description="CPU-seconds / 3600 × vCPU price")
    requests_ok: int = Field(description="Requests answered without error during the run")
    cost_per_1000_requests_usd: float | None
    prices: Prices
    notes: list[str] = Field(default_factory=list)


class AutoscalingReport(Frozen):
    """The autoscaling report of one run: the timeline, the HPA's reactions, each stage's steady state, the cost."""

    run_id: str
    run_name: str = ""
    status: str
    start: float
    end: float
    timeline_source: str
    hpa_name: str | None = None
    target_cpu_percent: float | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    rules: Rules
    run_series: RunSeries
    cluster: ClusterSeries
    reactions: list[Reaction] = Field(default_factory=list)
    stages: list[StageSteadiness] = Field(default_factory=list)
    cost: Cost
    missing: list[str] = Field(default_factory=list, description="Which cluster parts are missing, and why")
