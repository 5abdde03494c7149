"""The run source over the driver's store and API functions: what the Cluster Load tab and the runs pages use
when the driver is part of the build (registered on the blueprint below).

Starting goes through api.runs.create_run, the API's own path (SSRF guard, plan bounds, thresholds); reading goes
through runs.view.run_view, so the dashboard shows exactly the figures GET /runs/{id} returns."""

from __future__ import annotations

from typing import Any

from flask.blueprints import BlueprintSetupState
from pydantic import ValidationError

from load_harness import limits as L
from load_harness.api import runs as run_api
from load_harness.api.problems import from_validation_error
from load_harness.api.run_models import RunRequest
from load_harness.context import ctx
from load_harness.dashboard import runs as dash
from load_harness.dashboard.blueprint import bp
from load_harness.driver import histo
from load_harness.runs.view import run_view
from load_harness.store import runs as run_store
from load_harness.supervisor.wakeup import wake

# Latency histogram bucket bounds in µs: a 1-2-5 series from 50 µs to 60 s reads well on a log axis.
BUCKETS_US = [m * 10**e for e in range(1, 8) for m in (1, 2, 5) if 50 <= m * 10**e <= 60_000_000] + [60_000_000]
ERROR_CLASSES = ("connect", "timeout", "other")


def request_for(body: dict[str, Any]) -> RunRequest:
    """The dashboard's run spec (cluster.parse_run_form) → the POST /runs request model."""
    closed = body["mode"] == "closed"
    start = float(body["start_target"])
    stages = ",".join(f"{round(s['duration_s'], 3):g}s:{s['target']:g}" for s in body["stages"])
    data: dict[str, Any] = {
        "url": body.get("url"),
        "mode": "concurrency" if closed else "rate",
        "stages": stages,
        "thresholds": list(body.get("thresholds", [])),
        **body.get("work", {}),
    }
    if start > 0:
        data["concurrency" if closed else "rate"] = round(start) if closed else start
    try:
        return RunRequest.model_validate(data, strict=True)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def _peak(plan: dict[str, Any]) -> float:
    return float(max([plan.get("start_target") or 0, *(s.get("target") or 0 for s in plan.get("stages") or [])]))


def summary_of(run: run_store.Run, view: dict[str, Any]) -> dash.RunSummary:
    head = view.get("headline") or {}
    plan = run.plan
    duration = plan.get("duration_s")
    expires = None
    if run.active and duration is not None:
        expires = (run.started_at or run.created_at) + float(duration)
    return dash.RunSummary(
        id=run.id,
        name=str(run.options.get("name") or ""),
        status=run.status,
        mode=str(plan.get("mode", "open")),
        url=run.target,
        target=_peak(plan),
        created_at=run.created_at,
        duration_s=duration,
        finished_at=run.finished_at,
        expires_at=expires,
        requests=int(head.get("completed") or 0),
        errors=int(head.get("errors") or 0),
        rps=head.get("completed_rps"),
        p50_ms=head.get("p50_ms"),
        p99_ms=head.get("p99_ms"),
        thresholds_passed=view.get("passed"),
    )


def latency_buckets(states: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """Counts per bucket of the merged response-time histogram, without empty buckets at either end."""
    payloads = [s["latency"]["response"] for s in states if s.get("latency")]
    if not payloads:
        return []
    hist = histo.merge_encoded(payloads)
    counts = [0] * len(BUCKETS_US)
    for item in hist.get_recorded_iterator():
        value = item.value_iterated_to
        index = next((i for i, bound in enumerate(BUCKETS_US) if value <= bound), len(BUCKETS_US) - 1)
        counts[index] += item.count_at_value_iterated_to
    used = [i for i, c in enumerate(counts) if c]
    if not used:
        return []
    return [(BUCKETS_US[i] / 1000.0, counts[i]) for i in range(used[0], used[-1] + 1)]


def _series(summary: dict[str, Any]) -> list[dash.RunPoint]:
    series = summary.get("series") or {}
    points = series.get("points") or []
    interval = float(series.get("interval_s") or 1)
    if not points:
        return []
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


def _codes(summary: dict[str, Any]) -> dict[str, int]:
    codes = {str(k): int(v) for k, v in sorted((summary.get("status_codes") or {}).items())}
    for name in ERROR_CLASSES:
        count = int((summary.get("error_classes") or {}).get(name) or 0)
        if count:
            codes[name] = count
    return codes


class StoreRunSource:
    def limits(self) -> dash.RunLimits:
        return dash.RunLimits(
            rate_max=L.DRIVER_RATE_MAX,
            concurrency_max=L.DRIVER_CONCURRENCY_MAX,
            duration_min_s=1,
            duration_max_s=L.DRIVER_DURATION_MAX_S,
        )

    def list_runs(
        self, *, status: str | None = None, mode: str | None = None, search: str | None = None, limit: int = 50
    ) -> list[dash.RunSummary]:
        engine = ctx().engine
        # Mode and name live inside JSON columns, so those two filters apply after a generous fetch.
        fetch = limit if not (mode or search) else min(L.LIST_LIMIT_MAX, limit * 5)
        found = run_store.list_runs(engine, limit=fetch, statuses=[status] if status else None)
        result = []
        for run in found:
            if mode and run.plan.get("mode") != mode:
                continue
            name = str(run.options.get("name") or "")
            if search and search.lower() not in (name + " " + run.target + " " + run.id).lower():
                continue
            result.append(summary_of(run, run_view(engine, run)))
        return result[:limit]

    def get(self, run_id: str) -> dash.RunDetail | None:
        engine = ctx().engine
        run = run_store.get(engine, run_id)
        if run is None:
            return None
        view = run_view(engine, run, detail=True)
        summary: dict[str, Any] = view.get("summary") or {}
        response = (summary.get("latency_ms") or {}).get("response") or {}
        states = [s.state for s in run_store.shards_of(engine, run.id) if s.state]
        return dash.RunDetail(
            summary=summary_of(run, view),
            params={"plan": run.plan, "options": run.options},
            series=_series(summary),
            histogram=latency_buckets(states),
            pods=[
                dash.PodShare(p["pod"], int(p["count"]), int(p["errors"]), p.get("p50_ms"), p.get("p99_ms"))
                for p in summary.get("pods") or []
            ],
            status_codes=_codes(summary),
            percentiles_ms={k: float(response[k]) for k in ("p50", "p90", "p99", "p99.9", "max") if k in response},
            thresholds=[
                dash.Threshold(
                    t["threshold"], t.get("passed"), f"{t['actual']:g}" if t.get("actual") is not None else ""
                )
                for t in view.get("thresholds") or []
            ],
            dropped=int((summary.get("requests") or {}).get("dropped") or 0),
        )

    def validate(self, body: dict[str, Any]) -> None:
        """Everything create_run checks that does not need the plan built: the model, the target, thresholds."""
        run_api.check_request(request_for(body))

    def start(self, body: dict[str, Any]) -> dash.RunSummary:
        extra = {"name": body.get("name"), "preset": body.get("preset")}
        run = run_api.create_run(request_for(body), source="dashboard", extra_options=extra)
        return summary_of(run, run_view(ctx().engine, run))

    def stop(self, run_id: str) -> bool:
        stopped = run_store.request_stop(ctx().engine, run_id)
        if stopped:
            wake()
        return stopped


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(dash.EXTENSION, StoreRunSource())
