"""Request models for driver runs: the JSON of POST /runs and the query of GET /runs.

Every run bound is checked by driver.spec.check_bound, the one check the CLI and the dashboard use too, and read
from limits.py when a request is validated, not when this module is imported; the JSON Schema writes the bound's
current value as the field's maximum when /openapi.json is generated. The run itself (a RunSpec, then a Plan) is
made by runs.service from the model, with the CLI's own build_plan, so a run means the same from every way in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from load_harness import limits as L
from load_harness.api.models import JsonInt, JsonIntOrNone, Request
from load_harness.driver.plan import Mode, PlanError, parse_stages
from load_harness.driver.spec import (
    BOUNDS,
    BoundName,
    OptionsError,
    RunSpec,
    bound_value,
    check_bound,
    make_spec,
    number_text,
)
from load_harness.problems import field_error, invalid
from load_harness.runs import service
from load_harness.runs.model import RunOrigin, RunStatus

# The JSON Schema keyword of a max_length bound, by the type it applies to.
_LENGTH_KEYWORD = {"string": "maxLength", "array": "maxItems", "object": "maxProperties"}


def schema_bound(name: BoundName) -> Callable[[JsonDict], None]:
    """json_schema_extra writing the bound's value into the field's schema each time a schema is generated (the
    non-null branch of an optional field), so the document always says what validation enforces."""

    def update(schema: JsonDict) -> None:
        branches = schema.get("anyOf")
        target: JsonDict = schema
        if isinstance(branches, list):
            target = next((b for b in branches if isinstance(b, dict) and b.get("type") != "null"), schema)
        bound = BOUNDS[name]
        value = bound_value(name)
        number = int(value) if value.is_integer() else value
        if bound.kind == "le":
            target["maximum"] = number
        else:
            target[_LENGTH_KEYWORD[str(target.get("type"))]] = int(value)

    return update


def _bounded(name: BoundName, value: Any) -> Any:
    """check_bound as a pydantic error: the message, and the bound as ctx (the problem's `limit`)."""
    try:
        check_bound(name, value)
    except OptionsError as exc:
        kind = "less_than_equal" if BOUNDS[name].kind == "le" else "too_long"
        # check_bound's message names the bound's value already; pydantic only fills `{name}` from the ctx.
        raise PydanticCustomError(kind, str(exc), exc.limit) from None
    return value


def _duration_schema(schema: JsonDict) -> None:
    schema_bound("duration")(schema)
    default = number_text(L.DRIVER_DURATION_DEFAULT_S)  # read now, like the bound
    schema["description"] = f"Run length in seconds; default {default} (stages set their own)"


def _threshold_text(text: str) -> str:
    return str(_bounded("threshold", text))


ThresholdText = Annotated[str, AfterValidator(_threshold_text), Field(json_schema_extra=schema_bound("threshold"))]
# Each field of RunRequest bounded by a run bound → the bound's name in driver.spec.BOUNDS.
BOUNDED_FIELDS: dict[str, BoundName] = {
    "url": "url",
    "rate": "rate",
    "concurrency": "concurrency",
    "duration_seconds": "duration",
    "stages": "stages",
    "requests": "requests",
    "body": "body",
    "headers": "headers",
    "timeout_seconds": "timeout",
    "shards": "shards",
    "thresholds": "thresholds",
}


class RunRequest(Request):
    url: str | None = Field(
        None, description="Target; default: this service's /load/cpu/work", json_schema_extra=schema_bound("url")
    )
    rate: float | None = Field(
        None, gt=0, description="Open loop: requests per second", json_schema_extra=schema_bound("rate")
    )
    concurrency: JsonIntOrNone = Field(
        None, ge=1, description="Closed loop: concurrent requests", json_schema_extra=schema_bound("concurrency")
    )
    duration_seconds: JsonIntOrNone = Field(
        None,
        ge=1,
        json_schema_extra=_duration_schema,
    )
    stages: str | None = Field(
        None,
        description='Linear ramps, e.g. "30s:100,60s:500,30s:0" (targets in the mode\'s unit)',
        json_schema_extra=schema_bound("stages"),
    )
    mode: Literal["rate", "concurrency"] | None = Field(
        None, description="Needed with stages when neither target is set"
    )
    requests: JsonIntOrNone = Field(None, ge=1, json_schema_extra=schema_bound("requests"))
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    body: str | None = Field(None, json_schema_extra=schema_bound("body"))
    headers: dict[str, str] = Field(default_factory=dict, json_schema_extra=schema_bound("headers"))
    timeout_seconds: float = Field(5.0, gt=0, json_schema_extra=schema_bound("timeout"))
    # The work endpoint's own bounds (POST /load/cpu/work), not run bounds.
    cpu_ms: float | None = Field(
        None, ge=L.CPU_MS_MIN, le=L.CPU_MS_MAX, description="Work per request (default target)"
    )
    iterations: JsonIntOrNone = Field(None, ge=L.ITERATIONS_MIN, le=L.ITERATIONS_MAX)
    shards: JsonInt = Field(
        1, ge=1, description="Driver processes sharing the run", json_schema_extra=schema_bound("shards")
    )
    # Each item is capped before the threshold parser sees it (the parser caps again, for the CLI).
    thresholds: list[ThresholdText] = Field(
        default_factory=list,
        description='e.g. ["p99<500ms", "errors<1%"]',
        json_schema_extra=schema_bound("thresholds"),
    )
    placement: Literal["local", "external"] = Field(
        "local",
        description="local: this pod's supervisor runs the shards; external: an Indexed Job runs them "
        "(load-harness drive --run-id ID --shard-index $JOB_COMPLETION_INDEX --shards N)",
    )

    @field_validator(*BOUNDED_FIELDS)
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        return _bounded(BOUNDED_FIELDS[str(info.field_name)], value)

    @field_validator("headers")
    @classmethod
    def _header_sizes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, content in value.items():
            _bounded("header_name", name)
            _bounded("header_value", content)
            if not name or any(c in name + content for c in "\r\n"):
                raise ValueError(f"header {name[:40]!r} is empty or contains a line break")
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


def _enum_schema(values: type[RunStatus] | type[RunOrigin]) -> WithJsonSchema:
    # Inline, not a $ref: openapi.py lists a query model's properties as parameters and keeps no $defs for them.
    return WithJsonSchema({"type": "string", "enum": [member.value for member in values]})


class RunQuery(Request):
    model_config = Request.model_config | {"strict": False}
    limit: int = Field(L.LIST_LIMIT_DEFAULT, ge=1, le=L.LIST_LIMIT_MAX)
    status: Annotated[RunStatus, _enum_schema(RunStatus)] | None = Field(None, title="Status")
    source: Annotated[RunOrigin, _enum_schema(RunOrigin)] | None = Field(None, title="Source")
    target: str | None = Field(None, max_length=200, description="Only runs whose target URL contains this text")


_STAGES_MODE: dict[str | None, Mode | None] = {"rate": "open", "concurrency": "closed", None: None}


def spec_of(req: RunRequest) -> RunSpec:
    """A POST /runs body → a RunSpec. A run started remotely always ends: with neither duration_seconds nor
    stages it lasts limits.DRIVER_DURATION_DEFAULT_S, even when `requests` is given."""
    try:
        stages = parse_stages(req.stages) if req.stages else ()
    except PlanError as exc:
        raise invalid([field_error("stages", str(exc), (req.stages or "")[:80])]) from exc
    try:
        return make_spec(
            req.url or None,
            default_url=service.default_url(),
            rate=req.rate,
            concurrency=req.concurrency,
            stages_mode=_STAGES_MODE[req.mode],
            duration_s=None if req.duration_seconds is None else float(req.duration_seconds),
            stages=stages,
            requests=req.requests,
            method=req.method,
            body=req.body,
            cpu_ms=req.cpu_ms,
            iterations=req.iterations,
            headers=tuple(req.headers.items()),
            timeout_s=req.timeout_seconds,
            shards=req.shards,
            thresholds=req.thresholds,
        )
    except OptionsError as exc:
        raise service.problem(exc) from exc
