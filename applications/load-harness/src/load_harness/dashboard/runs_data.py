"""The runs as the dashboard shows them: rows from runs.service, figures from runs.view, turned into the records
the run pages and the active panel render (dashboard/runs.py).

Figures are read as runs.view reads them for GET /runs/{id} (the frozen summary of a finished run, else the live
merge of its shards' states), so the dashboard shows exactly what the API returns."""

from __future__ import annotations

from collections.abc import Sequence

from load_harness import limits as L
from load_harness.context import ctx
from load_harness.dashboard import runs as dash
from load_harness.driver import histo
from load_harness.driver.state import SeriesData, Summary
from load_harness.runs import repository as run_store
from load_harness.runs import service
from load_harness.runs.model import ACTIVE_STATUSES, RunStatus
from load_harness.runs.repository import Run
from load_harness.runs.view import current_summary, headline, shard_states, threshold_results

ERROR_CLASSES = ("connect", "timeout", "other")  # failures without an HTTP status, listed with the status codes
PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def _peak(run: Run) -> float:
    return max([run.plan.start_target, *(stage.target for stage in run.plan.stages)])


def summary_of(run: Run, summary: Summary | None) -> dash.RunSummary:
    """A list row: the run, its headline figures and the verdict of its thresholds (None: none were evaluated)."""
    head = headline(summary)
    checks = threshold_results(run, summary)
    duration = run.plan.duration_s
    expires = None
    if run.active and duration is not None:
        expires = (run.started_at or run.created_at) + duration
    return dash.RunSummary(
        id=run.id,
        name=run.options.name or "",
        status=run.status,
        mode=run.plan.mode,
        url=run.target,
        target=_peak(run),
        created_at=run.created_at,
        duration_s=duration,
        finished_at=run.finished_at,
        expires_at=expires,
        requests=head.completed if head else 0,
        errors=head.errors if head else 0,
        rps=head.completed_rps if head else None,
        p50_ms=head.p50_ms if head else None,
        p99_ms=head.p99_ms if head else None,
        thresholds_passed=all(check.passed for check in checks) if checks else None,
    )


def list_runs(
    *, status: RunStatus | None = None, mode: str | None = None, search: str | None = None, limit: int = 50
) -> list[dash.RunSummary]:
    """Newest first. `search` matches the name, the target URL or the id."""
    engine = ctx().engine
    # Mode and name live inside JSON columns, so those two filters apply after a generous fetch.
    fetch = limit if not (mode or search) else min(L.LIST_LIMIT_MAX, limit * 5)
    result = []
    for run in service.list_runs(limit=fetch, status=status):
        if mode and run.plan.mode != mode:
            continue
        name = run.options.name or ""
        if search and search.lower() not in f"{name} {run.target} {run.id}".lower():
            continue
        result.append(summary_of(run, current_summary(engine, run)))
    return result[:limit]


def active_runs() -> list[dash.RunSummary]:
    """Pending and running runs, newest first (the active panel)."""
    engine = ctx().engine
    found = [run for status in ACTIVE_STATUSES for run in service.list_runs(limit=L.LIST_LIMIT_MAX, status=status)]
    found.sort(key=lambda run: run.created_at, reverse=True)
    return [summary_of(run, current_summary(engine, run)) for run in found]


def latency_buckets(payloads: Sequence[str]) -> list[tuple[float, float, int]]:
    """(low ms, high ms, count) per bin of the merged response-time histograms (encoded HDR payloads, one per
    shard), trimmed of empty bins at both ends."""
    if not payloads:
        return []
    return [(b.low_ms, b.high_ms, b.count) for b in histo.latency_bins(histo.merge_encoded(list(payloads)))]


def _series(series: SeriesData) -> list[dash.RunPoint]:
    points = series.points
    if not points:
        return []
    interval = float(series.interval_s or 1)
    origin = points[0][0]
    # Per second even when the driver has doubled its buckets for a long run.
    return [
        dash.RunPoint(
            t=float(p[0] - origin),
            sent=round(p[1] / interval),
            completed=round(p[2] / interval),
            errors=p[3],
            p50_ms=_ms(p[4]),
            p99_ms=_ms(p[5]),
        )
        for p in points
    ]


def _codes(summary: Summary) -> dict[str, int]:
    codes = {str(k): int(v) for k, v in sorted(summary.status_codes.items())}
    for name in ERROR_CLASSES:
        count = int(summary.error_classes.get(name) or 0)
        if count:
            codes[name] = count
    return codes


def detail(run_id: str) -> dash.RunDetail:
    """A run's page and its data.json. Raises runs.service's 404 ProblemError for an unknown id."""
    engine = ctx().engine
    run = service.get(run_id)
    shards = run_store.shards_of(engine, run.id)  # read once: for the live figures and the histogram
    summary = current_summary(engine, run, shards)
    histogram = latency_buckets([state.latency.response for state in shard_states(shards)])
    head = summary_of(run, summary)
    if summary is None:
        return dash.RunDetail(summary=head, histogram=histogram)
    response = summary.latency_ms.response
    return dash.RunDetail(
        summary=head,
        series=_series(summary.series),
        histogram=histogram,
        pods=[dash.PodShare(p.pod, p.count, p.errors, p.p50_ms, p.p99_ms) for p in summary.pods],
        status_codes=_codes(summary),
        percentiles_ms={name: response.value(name) for name in PERCENTILES},
        thresholds=[dash.Threshold(t.threshold, t.passed, f"{t.actual:g}") for t in threshold_results(run, summary)],
        dropped=summary.requests.dropped,
    )
