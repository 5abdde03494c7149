"""GET /metrics: Prometheus text format for the whole pod, whichever worker answers."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from load_harness.context import ctx
from load_harness.telemetry.metrics import render

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render(ctx().registry), mimetype=CONTENT_TYPE_LATEST)
