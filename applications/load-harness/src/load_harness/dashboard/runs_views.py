"""Runs: history with filters, a run's detail with uPlot charts, a side-by-side comparison, and stop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, abort, jsonify, render_template, request

from load_harness.dashboard import runs as run_source
from load_harness.dashboard.blueprint import bp
from load_harness.dashboard.jobs import active_context

FILTER_TEXT_MAX = 80
HISTORY_LIMIT = 100


def _filters() -> dict[str, str]:
    status = request.args.get("status", "")
    mode = request.args.get("mode", "")
    return {
        "status": status if status in run_source.RUN_STATUSES else "",
        "mode": mode if mode in ("open", "closed") else "",
        "q": request.args.get("q", "")[:FILTER_TEXT_MAX],
    }


def history_context() -> dict[str, Any]:
    source = run_source.source()
    filters = _filters()
    runs: list[run_source.RunSummary] = []
    if source is not None:
        runs = source.list_runs(
            status=filters["status"] or None,
            mode=filters["mode"] or None,
            search=filters["q"] or None,
            limit=HISTORY_LIMIT,
        )
    return {
        "available": source is not None,
        "filters": filters,
        "runs": runs,
        "statuses": run_source.RUN_STATUSES,
        "reason": "The driver API (/runs) is not available in this build yet: there are no runs to show.",
    }


@bp.get("/runs")
def runs_page() -> str:
    return render_template("dashboard/runs/history.html", **history_context())


@bp.get("/runs/partials/list")
def runs_list() -> str:
    return render_template("dashboard/runs/table.html", **history_context())


def _detail(run_id: str) -> run_source.RunDetail:
    source = run_source.source()
    if source is None:
        abort(404, "the driver API is not available in this build")
    detail = source.get(run_id)
    if detail is None:
        abort(404, f"no run with id {run_id!r}")
    return detail


def chart_data(detail: run_source.RunDetail) -> dict[str, Any]:
    """Columns for uPlot (arrays of equal length), plus the summary the page updates while a run is live."""
    series = detail.series
    return {
        "id": detail.summary.id,
        "status": detail.summary.status,
        "live": detail.summary.status in run_source.ACTIVE_RUN_STATUSES,
        "time": {
            "t": [p.t for p in series],
            "rps": [p.completed for p in series],
            "errors": [p.errors for p in series],
            "p50": [p.p50_ms for p in series],
            "p99": [p.p99_ms for p in series],
        },
        "histogram": {"le_ms": [b for b, _ in detail.histogram], "count": [c for _, c in detail.histogram]},
        "pods": {"pod": [p.pod for p in detail.pods], "requests": [p.requests for p in detail.pods]},
        "codes": {"code": list(detail.status_codes), "count": list(detail.status_codes.values())},
        "summary": asdict(detail.summary),
    }


@bp.get("/runs/<run_id>")
def run_detail(run_id: str) -> str:
    detail = _detail(run_id)
    return render_template("dashboard/runs/detail.html", run=detail, s=detail.summary)


@bp.get("/runs/<run_id>/data.json")
def run_data(run_id: str) -> Response:
    return jsonify(chart_data(_detail(run_id)))


@bp.get("/runs/compare")
def runs_compare() -> tuple[str, int]:
    ids = [request.args.get("a", ""), request.args.get("b", "")]
    ids += request.args.getlist("run")
    ids = [i for i in ids if i][:2]
    if len(ids) != 2:
        page = render_template(
            "dashboard/runs/compare.html", runs=[], message="Choose two runs in the history to compare them."
        )
        return page, 400
    return render_template("dashboard/runs/compare.html", runs=[_detail(i) for i in ids], message=None), 200


@bp.post("/runs/<run_id>/stop")
def stop_run(run_id: str) -> tuple[str, int]:
    source = run_source.source()
    status, message = 200, None
    if source is None:
        status, message = 404, "The driver API is not available in this build."
    elif source.stop(run_id):
        message = f"Stopping run {run_id}."
    else:
        status, message = 404, f"Run {run_id!r} is not running (it may have finished)."
    context = {**active_context(), "message": message, "failed": status != 200}
    return render_template("dashboard/jobs/active.html", **context), status
