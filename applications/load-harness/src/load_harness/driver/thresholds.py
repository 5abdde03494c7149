"""Pass/fail thresholds, k6-style: `p99<500ms`, `p99.9<=1s`, `mean<200ms`, `errors<1%`, `rps>100`, `dropped<1%`.

Latency metrics (p50 p90 p95 p99 p99.9 max mean) read the response time: coordinated-omission corrected in open
loop, service time in closed loop. Prefix `service.` (e.g. `service.p99<50ms`) to read the raw service time.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from load_harness import limits as L
from load_harness.driver.state import Summary

_LATENCY = {"p50", "p90", "p95", "p99", "p99.9", "max", "mean", "min"}
_RATIO = {"errors", "dropped"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_UNIT_MS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}
# One way to read each text: the number is `digits[.digits]` or `.digits` (the old `[0-9]*\.?[0-9]+` could split a
# digit run anywhere, quadratic on a long run that fails), and possessive quantifiers never give characters back.
_PATTERN = re.compile(
    r"(service\.)?([a-z0-9.]++)\s*+(<=|>=|<|>)\s*+([0-9]++(?:\.[0-9]++)?|\.[0-9]++)\s*+(us|µs|ms|s|%)?"
)


class ThresholdError(ValueError):
    """A threshold that cannot be parsed; the CLI makes it a usage error (exit 2)."""


class ThresholdResult(BaseModel):
    threshold: str  # as written, e.g. "p99<500ms"
    metric: str
    actual: float
    limit: float
    passed: bool


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str  # "p99", "service.p99", "errors", "dropped", "rps"
    op: str
    limit: float  # ms for latency, percent for errors/dropped, req/s for rps

    def check(self, summary: Summary) -> ThresholdResult:
        actual = metric_value(summary, self.metric)
        return ThresholdResult(
            threshold=self.text,
            metric=self.metric,
            actual=actual,
            limit=self.limit,
            passed=_OPS[self.op](actual, self.limit),
        )


def parse_threshold(text: str) -> Threshold:
    """Linear in the length, which is capped at limits.THRESHOLD_TEXT_MAX before any parsing."""
    if len(text) > L.THRESHOLD_TEXT_MAX:
        raise ThresholdError(f"threshold {text[:40]!r}… is {len(text)} characters long; at most {L.THRESHOLD_TEXT_MAX}")
    match = _PATTERN.fullmatch(text.strip().lower())
    if not match:
        raise ThresholdError(f"bad threshold {text!r}: use e.g. 'p99<500ms', 'errors<1%', 'rps>100'")
    service, name, op, number, unit = match.groups()
    value = float(number)
    if name in _LATENCY:
        if unit is None or unit == "%":
            raise ThresholdError(f"threshold {text!r} needs a time unit (us, ms, s)")
        return Threshold(text, f"{service or ''}{name}", op, value * _UNIT_MS[unit])
    if service:
        raise ThresholdError(f"'service.' applies to latency metrics only: {text!r}")
    if name in _RATIO:
        if unit not in (None, "%"):
            raise ThresholdError(f"threshold {text!r} is a percentage (e.g. errors<1%)")
        return Threshold(text, name, op, value)
    if name == "rps":
        if unit is not None:
            raise ThresholdError(f"threshold {text!r} is in requests per second, no unit")
        return Threshold(text, name, op, value)
    known = ", ".join(sorted(_LATENCY | _RATIO | {"rps"}))
    raise ThresholdError(f"unknown threshold metric {name!r} in {text!r} (known: {known})")


def metric_value(summary: Summary, metric: str) -> float:
    if metric == "errors":
        return summary.requests.error_rate_pct
    if metric == "dropped":
        return summary.requests.dropped_pct
    if metric == "rps":
        return summary.throughput.completed_rps
    kind, _, name = metric.rpartition(".")
    latency = summary.latency_ms.service if kind == "service" else summary.latency_ms.response
    return latency.value(name)


def evaluate(thresholds: list[Threshold], summary: Summary) -> list[ThresholdResult]:
    return [threshold.check(summary) for threshold in thresholds]
