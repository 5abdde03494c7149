"""A run as trace spans: the `RunSink` that tracing adds when it is on (telemetry/tracing.py).

One `driver.run` span for this process's share of the run, with the run's spec (mode, target rate or
concurrency, duration, target host) and, at the end, its summary (requests, errors, p99); under it one
`driver.stage` span per stage of the plan, with the stage's real start and end and what was sent in it.

Not one span per request sent: at thousands of requests a second a span each would cost the driver more than
the request (an object, its attributes, ~200 bytes to export) and so distort the load it measures, and it
would flood the trace backend with millions of identical spans, one trace id per request, that nobody reads.
The run's HDR histograms and per-second series already hold what requests did. The driver does not send
`traceparent` to the target either (see docs/observability.md, "Tracing").

Like every sink, this one is called from the runner's sink thread, never the event loop, so making and
exporting spans cannot disturb pacing. opentelemetry is imported here only because this module is, which
happens only when tracing is on.
"""

from __future__ import annotations

import bisect
import math
import os
from urllib.parse import urlsplit

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from load_harness.driver.plan import Plan
from load_harness.driver.state import DriverState, RunMeta, StopReason
from load_harness.driver.summary import summarize
from load_harness.telemetry import tracing

RUN_SPAN = "driver.run"
STAGE_SPAN = "driver.stage"
# The environment carrier of OpenTelemetry's context propagation: a CI job or a pipeline that starts
# `load-harness drive` with TRACEPARENT set gets the run as a child of its own span.
TRACEPARENT_VARIABLE = "TRACEPARENT"


def _ns(epoch_s: float) -> int:
    return int(epoch_s * 1e9)


def spec_attributes(plan: Plan) -> dict[str, str | int | float]:
    """The run as it was asked for: the whole run's figures (before it was split into shards)."""
    target = urlsplit(plan.url)
    kind = "rate" if plan.mode == "open" else "concurrency"
    attributes: dict[str, str | int | float] = {
        "load_harness.run.mode": plan.mode,
        f"load_harness.run.{kind}": max([plan.start_target, *(stage.target for stage in plan.stages)]),
        "load_harness.run.stages": len(plan.stages),
        "load_harness.run.shard.index": plan.shard_index,
        "load_harness.run.shard.count": plan.shards,
        "http.request.method": plan.method,
        "server.address": target.hostname or "",
        "server.port": target.port or (443 if target.scheme == "https" else 80),
    }
    if not math.isinf(plan.duration_s):
        attributes["load_harness.run.duration_s"] = plan.duration_s
    if plan.requests is not None:
        attributes["load_harness.run.requests_limit"] = plan.requests
    return attributes


class TracingSink:
    def __init__(self, tracer: Tracer, plan: Plan) -> None:
        self.tracer = tracer
        self.plan = plan
        self.run_span: Span | None = None

    def start(self, meta: RunMeta) -> None:
        attributes = spec_attributes(self.plan)
        if meta.run_id is not None:
            attributes["load_harness.run.id"] = meta.run_id
        carrier = {"traceparent": os.environ[TRACEPARENT_VARIABLE]} if os.environ.get(TRACEPARENT_VARIABLE) else {}
        self.run_span = self.tracer.start_span(
            RUN_SPAN, context=propagate.extract(carrier), start_time=_ns(meta.started_at), attributes=attributes
        )

    def progress(self, state: DriverState) -> None:
        return None

    def should_stop(self) -> bool:
        return False

    def finish(self, state: DriverState) -> None:
        span = self.run_span
        if span is None:
            return
        summary = summarize(state)
        requests = summary.requests
        span.set_attributes(
            {
                "load_harness.run.sent": requests.sent,
                "load_harness.run.completed": requests.completed,
                "load_harness.run.errors": requests.errors,
                "load_harness.run.dropped": requests.dropped,
                "load_harness.run.error_rate_pct": requests.error_rate_pct,
                "load_harness.run.p50_ms": summary.latency_ms.response.p50,
                "load_harness.run.p99_ms": summary.latency_ms.response.p99,
                "load_harness.run.stop_reason": str(summary.stop_reason or StopReason.COMPLETED),
            }
        )
        if summary.stop_reason is StopReason.ABORTED:
            span.set_status(Status(StatusCode.ERROR, summary.message or "aborted"))
        self._stage_spans(span, state)
        span.end()
        self.run_span = None
        # Now, not at exit: a shard may be killed soon after its final report (the launcher's grace period).
        tracing.flush()

    def _stage_spans(self, parent: Span, state: DriverState) -> None:
        """Stages are made after the fact, with their real times: the runner has no stage events to hook, and
        a span made at the end costs nothing during the run. A stage the send window never reached is left out."""
        context = trace.set_span_in_context(parent)
        stages = self.plan.stages
        begins = [0.0]  # seconds from the start of the send window
        for stage in stages[:-1]:
            begins.append(begins[-1] + stage.duration_s)
        reached = max(1, sum(1 for begin in begins if begin < state.duration_s))
        sent, errors = [0] * reached, [0] * reached
        # Series point n holds second n of the window ([start + n, start + n + 1)) under the label
        # int(start + n), so n = label - int(start). Its second counts in the stage that holds its middle; the
        # last, partial second past the window counts in the last stage reached.
        first_label = math.floor(state.started_at)
        for point in state.series.points:
            index = min(bisect.bisect_right(begins, point[0] - first_label + 0.5) - 1, reached - 1)
            sent[max(0, index)] += point[1]
            errors[max(0, index)] += point[3]
        previous = self.plan.start_target
        for index in range(reached):
            stage = stages[index]
            begin = state.started_at + begins[index]
            end = min(begin + stage.duration_s, state.started_at + state.duration_s)
            attributes: dict[str, str | int | float] = {
                "load_harness.stage.index": index,
                "load_harness.stage.target_start": previous,
                "load_harness.stage.target_end": stage.target,
                "load_harness.stage.sent": sent[index],
                "load_harness.stage.errors": errors[index],
            }
            if not math.isinf(stage.duration_s):
                attributes["load_harness.stage.duration_s"] = stage.duration_s
            span = self.tracer.start_span(STAGE_SPAN, context=context, start_time=_ns(begin), attributes=attributes)
            span.end(end_time=_ns(max(end, begin)))
            previous = stage.target
