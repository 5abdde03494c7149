"""The autoscaling report of a stored run, as GET /runs/{id}/autoscaling and the run detail page ask for it: the run
from the store (runs.view, what GET /runs/{id} shows), the cluster timeline of its window from the app's timeline
source, the prices from the settings unless the request gives its own."""

from __future__ import annotations

import math
from dataclasses import dataclass

from load_harness.autoscaling.compute import build_report, run_window
from load_harness.autoscaling.cost import prices_for
from load_harness.autoscaling.model import AutoscalingReport
from load_harness.context import ctx
from load_harness.observe.timeline import ClusterTimeline, TimelineSource, TimelineUnavailable
from load_harness.runs import service as runs
from load_harness.runs.view import run_detail

MAX_TIMELINE_POINTS = 720  # per series: the step grows for long runs, so a report stays small


@dataclass(frozen=True)
class ReportOptions:
    """What a request may set; None: the settings' value (or the default they derive from)."""

    vcpu_hour_usd: float | None = None
    gb_hour_usd: float | None = None
    pod_memory_mb: float | None = None
    step_seconds: float | None = None


def timeline_source() -> TimelineSource | None:
    # The app's one set of providers, the same the dashboard's live panels read.
    return ctx().providers().timeline


def step_for(duration_s: float, asked: float | None) -> float:
    if asked is not None:
        return asked
    return float(max(1, math.ceil(duration_s / MAX_TIMELINE_POINTS)))


def cluster_timeline(start: float, end: float, step: float) -> ClusterTimeline | TimelineUnavailable:
    source = timeline_source()
    if source is None:
        return TimelineUnavailable(
            source="none configured",
            reason="no cluster timeline source is configured (PROMETHEUS_URL or OBSERVE_KUBERNETES), so the "
            "report shows the run's own figures only",
        )
    return source.timeline(start, end, step)


def report_for(run_id: str, options: ReportOptions | None = None) -> AutoscalingReport:
    """Raises runs.service's 404 ProblemError for an unknown run."""
    options = options or ReportOptions()
    context = ctx()
    detail = run_detail(context.engine, runs.get(run_id))
    settings = context.settings
    prices = prices_for(
        options.vcpu_hour_usd if options.vcpu_hour_usd is not None else settings.price_per_vcpu_hour,
        options.gb_hour_usd if options.gb_hour_usd is not None else settings.price_per_gb_hour,
        options.pod_memory_mb if options.pod_memory_mb is not None else settings.pod_memory_request_mb,
    )
    window = run_window(detail)
    if window is None:
        timeline: ClusterTimeline | TimelineUnavailable = TimelineUnavailable(
            source="none asked", reason="the run has no figures yet, so it has no window to ask the cluster about"
        )
    else:
        timeline = cluster_timeline(window.start, window.end, step_for(window.end - window.start, options.step_seconds))
    return build_report(detail, timeline, prices)
