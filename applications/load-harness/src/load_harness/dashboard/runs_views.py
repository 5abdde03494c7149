"""Runs: history with filters, a run's detail with uPlot charts, a side-by-side comparison, and stop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, jsonify, render_template, request

from load_harness.autoscaling.render import charts as autoscaling_charts
from load_harness.autoscaling.service import report_for
from load_harness.dashboard import runs as dash
from load_harness.dashboard import runs_data
from load_harness.dashboard.blueprint import bp
from load_harness.dashboard.jobs import active_context
from load_harness.problems import ProblemError
from load_harness.runs import service
from load_harness.runs.model import RunStatus

FILTER_TEXT_MAX = 80
HISTORY_LIMIT = 100


def _filters() -> dict[str, str]:
    status = request.args.get("status", "")
    mode = request.args.get("mode", "")
    return {
        "status": status if status in dash.RUN_STATUSES else "",
        "mode": mode if mode in ("open", "closed") else "",
        "q": request.args.get("q", "")[:FILTER_TEXT_MAX],
    }


def history_context() -> dict[str, Any]:
    filters = _filters()
    runs = runs_data.list_runs(
        status=RunStatus(filters["status"]) if filters["status"] else None,
        mode=filters["mode"] or None,
        search=filters["q"] or None,
        limit=HISTORY_LIMIT,
    )
    return {"filters": filters, "runs": runs, "statuses": dash.RUN_STATUSES}


@bp.get("/runs")
def runs_page() -> str:
    return render_template("dashboard/runs/history.html", **history_context())


@bp.get("/runs/partials/list")
def runs_list() -> str:
    return render_template("dashboard/runs/table.html", **history_context())


def chart_data(detail: dash.RunDetail) -> dict[str, Any]:
    """Columns for uPlot (arrays of equal length), plus the summary the page updates while a run is live."""
    series = detail.series
    return {
        "id": detail.summary.id,
        "status": detail.summary.status,
        "live": detail.summary.status in dash.ACTIVE_RUN_STATUSES,
        "time": {
            "t": [p.t for p in series],
            "rps": [p.completed for p in series],
            "errors": [p.errors for p in series],
            "p50": [p.p50_ms for p in series],
            "p99": [p.p99_ms for p in series],
        },
        "histogram": {
            "low_ms": [low for low, _, _ in detail.histogram],
            "high_ms": [high for _, high, _ in detail.histogram],
            "count": [count for _, _, count in detail.histogram],
        },
        "pods": {"pod": [p.pod for p in detail.pods], "requests": [p.requests for p in detail.pods]},
        "codes": {"code": list(detail.status_codes), "count": list(detail.status_codes.values())},
        "summary": asdict(detail.summary),
    }


@bp.get("/runs/<run_id>")
def run_detail(run_id: str) -> str:
    detail = runs_data.detail(run_id)
    report = report_for(run_id)
    return render_template(
        "dashboard/runs/detail.html", run=detail, s=detail.summary, report=report, charts=autoscaling_charts(report)
    )


@bp.get("/runs/<run_id>/data.json")
def run_data(run_id: str) -> Response:
    return jsonify(chart_data(runs_data.detail(run_id)))


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
    return render_template("dashboard/runs/compare.html", runs=[runs_data.detail(i) for i in ids], message=None), 200


@bp.post("/runs/<run_id>/stop")
def stop_run(run_id: str) -> tuple[str, int]:
    status, message = 200, f"Stopping run {run_id}."
    try:
        service.stop(run_id)
    except ProblemError:  # unknown (404) or already ended (409): the page says it is not running
        status, message = 404, f"Run {run_id!r} is not running (it may have finished)."
    context = {**active_context(), "message": message, "failed": status != 200}
    return render_template("dashboard/jobs/active.html", **context), status
