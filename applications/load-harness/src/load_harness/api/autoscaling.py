"""The autoscaling report of a run over HTTP: GET /runs/{id}/autoscaling (JSON, the report model) and
GET /runs/{id}/autoscaling.html (one self-contained HTML file, as a download). The work is in autoscaling/."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from pydantic import Field

from load_harness.api.models import Problem, Request
from load_harness.api.validation import documented, parse_query
from load_harness.autoscaling.export import export_html, filename
from load_harness.autoscaling.model import AutoscalingReport
from load_harness.autoscaling.service import ReportOptions, report_for

bp = Blueprint("autoscaling", __name__)


class AutoscalingQuery(Request):
    """Prices and the timeline's step for this one report; each unset one comes from the settings."""

    model_config = Request.model_config | {"strict": False}
    vcpu_hour_usd: float | None = Field(None, ge=0, le=100, description="USD per vCPU-hour (PRICE_PER_VCPU_HOUR)")
    gb_hour_usd: float | None = Field(None, ge=0, le=100, description="USD per GiB-hour (PRICE_PER_GB_HOUR)")
    pod_memory_mb: float | None = Field(
        None, ge=0, le=1_048_576, description="Each pod's memory request, MiB (POD_MEMORY_REQUEST_MB)"
    )
    step_seconds: float | None = Field(
        None, ge=1, le=3600, description="The timeline's step; default: 1 s, longer for runs over 12 minutes"
    )


def _report(run_id: str) -> AutoscalingReport:
    query = parse_query(AutoscalingQuery)
    return report_for(run_id, ReportOptions(**query.model_dump()))


@bp.get("/runs/<run_id>/autoscaling")
@documented(
    "A run's autoscaling report: timeline, the HPA's reactions, time to steady state, cost",
    query=AutoscalingQuery,
    responses={200: AutoscalingReport, 404: Problem},
    tags=["runs"],
)
def autoscaling_report(run_id: str) -> Response:
    return jsonify(_report(run_id).model_dump(mode="json"))


@bp.get("/runs/<run_id>/autoscaling.html")
@documented(
    "A run's autoscaling report as one self-contained HTML file (charts inline as SVG), as a download",
    query=AutoscalingQuery,
    responses={200: "The report as text/html, Content-Disposition: attachment", 404: Problem},
    tags=["runs"],
)
def autoscaling_export(run_id: str) -> Response:
    report = _report(run_id)
    page, csp = export_html(report)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(report)}"'
    response.headers["Content-Security-Policy"] = csp  # security/headers.py keeps a policy a view has set
    return response
