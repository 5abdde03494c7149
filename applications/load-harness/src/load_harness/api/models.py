"""Request and response models. Bounds come from load_harness.limits, the single source of truth.

Requests are validated in strict mode: a boolean is not an integer, "5" is not a number. Unknown fields are
rejected, so a typo such as `core` fails loudly instead of silently using a default. Integer fields are `JsonInt`:
JSON Schema counts 100.0 as an integer, and so did the original API.

A bound that depends on the container is marked with `pod_limit(name)`: the static bound validates, the handler
applies the pod's bound, and /openapi.json shows the pod's value (see api/openapi.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from load_harness import limits as L

POD_LIMIT_KEY = "x-pod-limit"


def _integral(value: Any) -> Any:
    # 100.0 becomes 100; 100.5, booleans and strings pass through unchanged for strict int validation to refuse.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral)]
"""An integer as JSON Schema defines one: 5 and 5.0 are accepted, 5.5, true and "5" are not."""
# Not `JsonInt | None`: with the validator inside the union, pydantic writes the field's bounds into the JSON
# Schema as "ge"/"le" instead of "minimum"/"maximum", and clients and checkers would see no bounds at all.
JsonIntOrNone = Annotated[int | None, BeforeValidator(_integral)]


def pod_limit(name: str) -> dict[str, Any]:
    """json_schema_extra naming the PodLimits attribute that bounds this field's maximum on the running pod."""
    return {POD_LIMIT_KEY: name}


def memory_size_field(description: str) -> Any:
    """`size_mb` of memory jobs and syncs: one bound, the pod's memory budget, which both spend."""
    return Field(
        L.MEMORY_MB_DEFAULT,
        ge=L.MEMORY_MB_MIN,
        le=L.MEMORY_MB_MAX,
        description=description,
        json_schema_extra=pod_limit("memory_max_mb"),
    )


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class CpuJobRequest(Request):
    cores: JsonInt = Field(
        1,
        ge=1,
        le=L.CPU_CORES_MAX,
        description="Burner processes; at most ceil(available cores × CPU_OVERCOMMIT)",
        json_schema_extra=pod_limit("cores_max"),
    )
    duration_seconds: JsonInt = Field(
        L.CPU_DURATION_DEFAULT_S,
        ge=L.CPU_DURATION_MIN_S,
        le=L.CPU_DURATION_MAX_S,
        description="How long to burn",
    )
    utilization: JsonIntOrNone = Field(
        None,
        ge=L.UTILIZATION_MIN,
        le=L.UTILIZATION_MAX,
        description="Percent of each core to burn (of what the container may use); default 100",
    )
    intensity: JsonIntOrNone = Field(
        None,
        ge=L.INTENSITY_MIN,
        le=L.INTENSITY_MAX,
        description="Compatibility with the original: when `utilization` is absent, utilization = intensity × 10",
    )

    @property
    def effective_utilization(self) -> int:
        if self.utilization is not None:
            return self.utilization
        if self.intensity is not None:
            return self.intensity * 10
        return L.UTILIZATION_MAX


def intensity_for(utilization: int | float) -> int:
    """The original's 1–10 `intensity` that a utilisation corresponds to: the inverse of intensity × 10, rounded
    half up and kept within 1–10, so an explicit intensity always reads back unchanged (ADR 0004)."""
    level = int(utilization / 10 + 0.5)
    return max(L.INTENSITY_MIN, min(L.INTENSITY_MAX, level))


class MemoryJobRequest(Request):
    size_mb: JsonInt = memory_size_field(
        "Resident memory to hold, in MiB; at most the container's memory less MEMORY_SAFETY_MB"
    )
    duration_seconds: JsonInt = Field(
        L.MEMORY_DURATION_DEFAULT_S, ge=L.MEMORY_DURATION_MIN_S, le=L.MEMORY_DURATION_MAX_S
    )


class StopRequest(Request):
    job_id: str | None = Field(
        None, max_length=L.ID_MAX_LENGTH, description="The job to stop; omit to stop all of this kind"
    )


class WorkRequest(Request):
    # The schema says what _one_measure enforces, so that a schema-valid request is never refused.
    model_config = Request.model_config | ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["iterations", "cpu_ms"],
                "properties": {"iterations": {"type": "integer"}, "cpu_ms": {"type": "number"}},
            }
        }
    )
    iterations: JsonIntOrNone = Field(None, ge=L.ITERATIONS_MIN, le=L.ITERATIONS_MAX)
    cpu_ms: Annotated[float, Field(ge=L.CPU_MS_MIN, le=L.CPU_MS_MAX)] | None = Field(
        None, description="Burn exactly this much CPU time (milliseconds); exclusive with iterations"
    )

    @model_validator(mode="after")
    def _one_measure(self) -> WorkRequest:
        if self.iterations is not None and self.cpu_ms is not None:
            raise ValueError("give either iterations or cpu_ms, not both")
        return self


class MemorySyncRequest(Request):
    size_mb: JsonInt = memory_size_field(
        "Memory to allocate and touch, in MiB; syncs and memory jobs share the pod's memory budget"
    )
    duration_ms: JsonInt = Field(
        L.MEMORY_SYNC_DURATION_DEFAULT_MS, ge=L.MEMORY_SYNC_DURATION_MIN_MS, le=L.MEMORY_SYNC_DURATION_MAX_MS
    )


class ChaosRequest(Request):
    fail_rate: float = Field(ge=L.FAIL_RATE_MIN, le=L.FAIL_RATE_MAX, description="Share of requests answered 500")
    latency_ms: JsonInt = Field(0, ge=0, le=L.FAIL_LATENCY_MS_MAX, description="Latency added to each request")
    pod: str = Field("*", min_length=1, max_length=253, description="One pod's name, or * for every pod")


class ChaosReset(Request):
    pod: str = Field("*", min_length=1, max_length=253)


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(L.LIST_LIMIT_DEFAULT, ge=1, le=L.LIST_LIMIT_MAX)
    status: Literal["running", "completed", "stopped", "failed", "lost"] | None = None


class JobView(Response):
    job_id: str
    kind: str
    status: str
    pod: str
    duration_seconds: int
    started_at: str | None
    completed_at: str | None
    stopped_at: str | None
    cpu_seconds: float | None
    peak_rss_bytes: int | None


class JobStarted(Response):
    status: Literal["started"]
    job_id: str
    duration_seconds: int
    message: str
    check_status: str
    stop_endpoint: str
    timestamp: str


class JobList(Response):
    active_jobs: int
    total_jobs: int
    jobs: list[JobView]


class Stopped(Response):
    status: Literal["stopped"]
    stopped_jobs: list[str]
    count: int


class WorkResult(Response):
    status: Literal["completed"]
    duration_ms: float
    cpu_ms: float
    pod_name: str


class MemorySyncResult(Response):
    status: Literal["completed"]
    requested_size_mb: int
    actual_bytes_allocated: int
    requested_duration_ms: int
    actual_duration_ms: float
    allocation_time_ms: float
    pod_name: str


class Health(Response):
    status: str
    timestamp: str


class Readiness(Response):
    status: Literal["ready", "not ready"]
    timestamp: str
    reasons: list[str] = Field(default_factory=list, description="Why not ready; absent when ready")


class Problem(Response):
    type: str
    title: str
    status: int
    detail: str
