"""What a run is, typed: the one thing every way in produces (the CLI, POST /runs, the dashboard's form, the
Flagger webhook) and driver.options.build_plan turns into a Plan. Seconds are floats, stages are `Stage`s and
headers are pairs, so no caller writes values out as text for another parser to read back.

The run bounds live here too. Their values are in limits.py; `check_bound` is the one place that compares a value
with one, and it reads the value from limits.py each time it is called, so a changed limit (a test's monkeypatch
included) applies to every way in at once. The API model's validators, its OpenAPI schema, the dashboard and the
CLI all go through it.

No Flask and no store here: the CLI imports this module."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from typing import Literal

from load_harness import limits as L
from load_harness.driver.plan import Mode, Stage

DEFAULT_PATH = "/load/cpu/work"
# With no body of its own, the default target gets an empty JSON object: POST with the endpoint's own defaults.
DEFAULT_BODY = "{}"


def default_target(service_url: str | None, port: int | str) -> str:
    """This service's own CPU-work endpoint: through its Service URL when one is set, else on loopback."""
    base = service_url.rstrip("/") if service_url else f"http://127.0.0.1:{port}"
    return base + DEFAULT_PATH


class OptionsError(ValueError):
    """A bad option. `field` names it as the CLI's flag does, without the dashes (`rate`, `header`, `url`); the
    CLI prefixes --, the API maps it to its JSON field. `limit` is the bound it broke, e.g. {"le": 20000}."""

    def __init__(
        self, message: str, field: str = "(options)", value: object = None, limit: dict[str, float] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.limit = limit


# --- bounds ------------------------------------------------------------------------------------------------

BoundName = Literal[
    "url", "rate", "concurrency", "duration", "requests", "body", "headers", "header_name", "header_value",
    "timeout", "shards", "thresholds", "threshold", "stages", "flagger_duration",
]  # fmt: skip
BoundKind = Literal["le", "max_length"]  # a number at most the value; a text or a collection at most that long


@dataclass(frozen=True)
class Bound:
    limit: str  # the name of its value in limits.py, read when checked
    field: str  # the option it bounds, named as the CLI's flag
    kind: BoundKind
    unit: str = ""

    @property
    def value(self) -> float:
        return float(getattr(L, self.limit))


BOUNDS: dict[BoundName, Bound] = {
    "url": Bound("DRIVER_URL_MAX", "url", "max_length", " characters"),
    "rate": Bound("DRIVER_RATE_MAX", "rate", "le", " req/s"),
    "concurrency": Bound("DRIVER_CONCURRENCY_MAX", "concurrency", "le", " concurrent requests"),
    "duration": Bound("DRIVER_DURATION_MAX_S", "duration", "le", " s"),
    "requests": Bound("DRIVER_REQUESTS_MAX", "requests", "le", " requests"),
    "body": Bound("DRIVER_BODY_MAX_BYTES", "body", "max_length", " characters"),
    "headers": Bound("DRIVER_HEADERS_MAX", "header", "max_length", " headers"),
    "header_name": Bound("DRIVER_HEADER_NAME_MAX", "header", "max_length", " characters"),
    "header_value": Bound("DRIVER_HEADER_VALUE_MAX", "header", "max_length", " characters"),
    "timeout": Bound("DRIVER_TIMEOUT_MAX_S", "timeout", "le", " s"),
    "shards": Bound("DRIVER_SHARDS_MAX", "shards", "le", " shards"),
    "thresholds": Bound("DRIVER_THRESHOLDS_MAX", "threshold", "max_length", " thresholds"),
    "threshold": Bound("THRESHOLD_TEXT_MAX", "threshold", "max_length", " characters"),
    "stages": Bound("DRIVER_STAGES_TEXT_MAX", "stages", "max_length", " characters"),
    "flagger_duration": Bound("FLAGGER_DURATION_MAX_S", "duration", "le", " s"),
}


def bound_value(name: BoundName) -> float:
    """The bound's current value (what a schema or a form shows as the maximum)."""
    return BOUNDS[name].value


def number_text(value: float) -> str:
    """10000000, not 1e+07; 0.5 stays 0.5; 1e+30 stays 1e+30."""
    if isinstance(value, int) and abs(value) >= 10**15:
        # JSON integers have no size limit and may not fit a float: give their magnitude, not their digits.
        return f"about {'-' if value < 0 else ''}1e{int(abs(value).bit_length() * math.log10(2))}"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def check_bound(name: BoundName, value: float | Sized | None, field: str | None = None) -> None:
    """Raise OptionsError when `value` breaks the bound, naming the option (`field`, else the bound's own), the
    bound and the value. None passes: an option not given breaks nothing."""
    if value is None:
        return
    bound = BOUNDS[name]
    maximum = bound.value
    limit: dict[str, float] = {bound.kind: int(maximum) if maximum.is_integer() else maximum}
    if isinstance(value, Sized):
        size = len(value)
        if size <= maximum:
            return
        shown: object = value[:80] if isinstance(value, str) else size
        message = f"at most {number_text(maximum)}{bound.unit}, got {size}"
    else:
        if value <= maximum:  # NaN is refused too: it is not ≤ anything
            return
        shown = value
        message = f"must be at most {number_text(maximum)}{bound.unit}, got {number_text(value)}"
    raise OptionsError(message, field or bound.field, shown, limit)


# --- the spec ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """A run as the driver will make it. Build one with `make_spec` (it resolves the default target and which
    loop the targets are in) or directly; build_plan checks it either way."""

    url: str
    mode: Mode = "closed"
    # The rate (open loop) or concurrency (closed loop) the run starts at; with stages, where the first ramp starts.
    target: float = 1.0
    # A constant run's length; None: limits.DRIVER_DURATION_DEFAULT_S; math.inf: only `requests` ends it (CLI).
    # Must stay None with stages, which set the length themselves.
    duration_s: float | None = None
    stages: tuple[Stage, ...] = ()
    requests: int | None = None
    method: str | None = None  # None: GET, or POST when there is a body
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 5.0
    shards: int = 1
    thresholds: tuple[str, ...] = ()  # as written ("p99<500ms"): stored and shown so; driver.thresholds parses them
    max_in_flight: int = 1000
    max_burst: int | None = None
    insecure: bool = False

    @property
    def target_field(self) -> str:
        """The option a bad start target is reported against."""
        return "rate" if self.mode == "open" else "concurrency"

    @property
    def peak(self) -> float:
        return max([self.target, *(stage.target for stage in self.stages)])

    @property
    def length_s(self) -> float:
        """How long the send window is (math.inf when only `requests` bounds it)."""
        if self.stages:
            return sum(stage.duration_s for stage in self.stages)
        return float(L.DRIVER_DURATION_DEFAULT_S) if self.duration_s is None else self.duration_s


def check_bounds(spec: RunSpec) -> None:
    """Every run bound of a spec, through check_bound; raises OptionsError naming the first one broken."""
    check_bound("url", spec.url)
    target_bound: BoundName = "rate" if spec.mode == "open" else "concurrency"
    check_bound(target_bound, spec.target, spec.target_field)
    for stage in spec.stages:  # a ramp may not climb past what a constant run may ask for
        check_bound(target_bound, stage.target, "stages")
    length = spec.length_s
    if math.isfinite(length):
        check_bound("duration", length, "stages" if spec.stages else "duration")
    check_bound("requests", spec.requests)
    check_bound("body", spec.body)
    check_bound("headers", spec.headers)
    for name, value in spec.headers:
        check_bound("header_name", name)
        check_bound("header_value", value)
    check_bound("timeout", spec.timeout_s)
    check_bound("shards", spec.shards)
    check_bound("thresholds", spec.thresholds)
    for text in spec.thresholds:
        check_bound("threshold", text)


def make_spec(
    url: str | None,
    *,
    default_url: str,
    rate: float | None = None,
    concurrency: int | None = None,
    stages_mode: Mode | None = None,
    duration_s: float | None = None,
    stages: Sequence[Stage] = (),
    requests: int | None = None,
    method: str | None = None,
    body: str | None = None,
    cpu_ms: float | None = None,
    iterations: int | None = None,
    headers: Sequence[tuple[str, str]] = (),
    timeout_s: float = 5.0,
    shards: int = 1,
    thresholds: Sequence[str] = (),
    max_in_flight: int = 1000,
    max_burst: int | None = None,
    insecure: bool = False,
) -> RunSpec:
    """The options every way in has, as typed values → a RunSpec. Settles what the options say together: which
    loop (rate: open, concurrency: closed; stages alone: `stages_mode`, else open; nothing: one closed loop), the
    body (`cpu_ms` and `iterations` are bodies for the default target), and the target itself (`url`, else
    `default_url` with an empty JSON body). Raises OptionsError for options that contradict each other; the values
    themselves are checked by build_plan."""
    if rate is not None and concurrency is not None:
        raise OptionsError("give either rate (open loop) or concurrency (closed loop), not both", "rate", rate)
    if stages and duration_s is not None:
        raise OptionsError("stages already set the duration; drop duration", "duration", duration_s)
    if sum(x is not None for x in (body, cpu_ms, iterations)) > 1:
        raise OptionsError("give only one of body, cpu-ms, iterations", "body", body)
    mode: Mode
    if rate is not None:
        mode, target = "open", float(rate)
    elif concurrency is not None:
        mode, target = "closed", float(concurrency)
    elif stages:
        mode, target = stages_mode or "open", 0.0  # the ramp starts from nothing
    else:
        mode, target = "closed", 1.0
    if cpu_ms is not None:
        body = json.dumps({"cpu_ms": cpu_ms})
    elif iterations is not None:
        body = json.dumps({"iterations": iterations})
    if url is None:
        url = default_url
        if body is None:
            body = DEFAULT_BODY
    return RunSpec(
        url=url,
        mode=mode,
        target=target,
        duration_s=duration_s,
        stages=tuple(stages),
        requests=requests,
        method=method,
        body=body,
        headers=tuple(headers),
        timeout_s=timeout_s,
        shards=shards,
        thresholds=tuple(thresholds),
        max_in_flight=max_in_flight,
        max_burst=max_burst,
        insecure=insecure,
    )
