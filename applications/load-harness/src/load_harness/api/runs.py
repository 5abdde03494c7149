"""Driver runs over HTTP: start, list, read and stop them. The handlers only parse and answer; runs.service does
the work (the SSRF guard, the bounds, the plan through the CLI's own build_plan, admission within the pod's
MAX_CONCURRENT_RUNS and MAX_SHARD_PROCESSES), the same for the dashboard and the Flagger webhook."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from load_harness.api.models import Problem
from load_harness.api.run_models import RunQuery, RunRequest, spec_of
from load_harness.api.validation import documented, parse_body, parse_query
from load_harness.context import ctx
from load_harness.runs import repository as run_store
from load_harness.runs import service
from load_harness.runs.model import RunOrigin
from load_harness.runs.view import run_detail, run_view

bp = Blueprint("runs", __name__)
ERRORS: dict[int, type[Problem] | str] = {400: Problem, 409: Problem, 422: Problem}


def started(run: run_store.Run) -> tuple[Response, int]:
    body = run_view(ctx().engine, run).model_dump(mode="json")
    if run.pod is None:
        body["launch"] = (
            f"load-harness drive --run-id {run.id} --shard-index $JOB_COMPLETION_INDEX --shards {run.shards}"
        )
    return jsonify(body), 202


@bp.post("/runs")
@documented("Start a driver run", body=RunRequest, responses={202: "Started", **ERRORS}, tags=["runs"])
def start_run() -> tuple[Response, int]:
    req = parse_body(RunRequest)
    return started(service.create(spec_of(req), source=RunOrigin.API, placement=req.placement))


@bp.get("/runs")
@documented("Runs, newest first", query=RunQuery, tags=["runs"])
def list_runs() -> Response:
    query = parse_query(RunQuery)
    found = service.list_runs(limit=query.limit, status=query.status, source=query.source, target=query.target)
    engine = ctx().engine
    return jsonify(runs=[run_view(engine, run).model_dump(mode="json") for run in found], count=len(found))


@bp.get("/runs/<run_id>")
@documented("One run: merged figures, time series, per-pod table, thresholds", responses={404: Problem}, tags=["runs"])
def get_run(run_id: str) -> Response:
    return jsonify(run_detail(ctx().engine, service.get(run_id)).model_dump(mode="json"))


@bp.post("/runs/<run_id>/stop")
@documented("Stop a run (every shard, wherever it runs)", responses={404: Problem, 409: Problem}, tags=["runs"])
def stop_run(run_id: str) -> Response:
    return jsonify(run_view(ctx().engine, service.stop(run_id)).model_dump(mode="json"))
