"""Request models for driver runs. Bounds are limits.DRIVER_*; the plan itself is built by the same function the
CLI uses (driver.options.build_plan), so a run means the same thing from every way in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from load_harness import limits as L
from load_harness.api.models import JsonInt, JsonIntOrNone, Request


class RunRequest(Request):
    url: str | None = Field(
        None, max_length=L.DRIVER_URL_MAX, description="Target; default: this service's /load/cpu/work"
    )
    rate: float | None = Field(None, gt=0, le=L.DRIVER_RATE_MAX, description="Open loop: requests per second")
    concurrency: JsonIntOrNone = Field(
        None, ge=1, le=L.DRIVER_CONCURRENCY_MAX, description="Closed loop: concurrent requests"
    )
    duration_seconds: JsonIntOrNone = Field(None, ge=1, le=L.DRIVER_DURATION_MAX_S)
    stages: str | None = Field(
        None,
        max_length=L.DRIVER_STAGES_TEXT_MAX,
        description='Linear ramps, e.g. "30s:100,60s:500,30s:0" (targets in the mode\'s unit)',
    )
    mode: Literal["rate", "concurrency"] | None = Field(
        None, description="Needed with stages when neither target is set"
    )
    requests: JsonIntOrNone = Field(None, ge=1, le=L.DRIVER_REQUESTS_MAX)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    body: str | None = Field(None, max_length=L.DRIVER_BODY_MAX_BYTES)
    headers: dict[str, str] = Field(default_factory=dict, max_length=L.DRIVER_HEADERS_MAX)
    timeout_seconds: float = Field(5.0, gt=0, le=L.DRIVER_TIMEOUT_MAX_S)
    cpu_ms: float | None = Field(
        None, ge=L.CPU_MS_MIN, le=L.CPU_MS_MAX, description="Work per request (default target)"
    )
    iterations: JsonIntOrNone = Field(None, ge=L.ITERATIONS_MIN, le=L.ITERATIONS_MAX)
    shards: JsonInt = Field(1, ge=1, le=L.DRIVER_SHARDS_MAX, description="Driver processes sharing the run")
    # Each item is capped before the threshold parser sees it (the parser caps again, for the CLI).
    thresholds: list[Annotated[str, Field(max_length=L.THRESHOLD_TEXT_MAX)]] = Field(
        default_factory=list, max_length=L.DRIVER_THRESHOLDS_MAX, description='e.g. ["p99<500ms", "errors<1%"]'
    )
    placement: Literal["local", "external"] = Field(
        "local",
        description="local: this pod's supervisor runs the shards; external: an Indexed Job runs them "
        "(load-harness drive --run-id ID --shard-index $JOB_COMPLETION_INDEX --shards N)",
    )

    @field_validator("headers")
    @classmethod
    def _header_sizes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, content in value.items():
            too_long = len(name) > L.DRIVER_HEADER_NAME_MAX or len(content) > L.DRIVER_HEADER_VALUE_MAX
            if not name or too_long or any(c in name + content for c in "\r\n"):
                raise ValueError(f"header {name[:40]!r} is empty, too long or contains a line break")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> RunRequest:
        if self.rate is not None and self.concurrency is not None:
            raise ValueError("give either rate (open loop) or concurrency (closed loop), not both")
        if self.stages and self.duration_seconds is not None:
            raise ValueError("stages already set the duration; drop duration_seconds")
        if self.stages and self.rate is None and self.concurrency is None and self.mode is None:
            raise ValueError("with stages, say which mode: rate or concurrency")
        if sum(x is not None for x in (self.body, self.cpu_ms, self.iterations)) > 1:
            raise ValueError("give only one of body, cpu_ms, iterations")
        return self


class RunQuery(Request):
    model_config = Request.model_config | {"strict": False}
    limit: int = Field(L.LIST_LIMIT_DEFAULT, ge=1, le=L.LIST_LIMIT_MAX)
    status: Literal["pending", "running", "completed", "stopped", "failed", "interrupted"] | None = None
    source: Literal["api", "dashboard", "cli", "flagger"] | None = None
    target: str | None = Field(None, max_length=200, description="Only runs whose target URL contains this text")
