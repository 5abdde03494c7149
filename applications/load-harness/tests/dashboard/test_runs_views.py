"""Cluster Load tab and runs pages, over the driver's real store: runs started from the form (pending: a unit-test
app has no supervisor to launch them) and runs seeded with states built from the driver's own records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from lh_support import seed_run
from load_harness import limits as L
from load_harness.context import KEY
from load_harness.dashboard import cluster, runs, runs_data
from load_harness.driver import histo
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOrigin, RunStatus

RUN_OK = {
    "mode": "open",
    "target": "40",
    "preset": "ramp-up",
    "duration_s": "20",
    "work": "cpu_ms",
    "work_amount": "2",
    "p99_ms": "250",
    "errors_pct": "1",
    "name": "",
    "url": "",
}


# --- the form and its presets ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", list(runs.PRESETS))
def test_presets_fill_the_duration_and_reach_the_target(preset: str) -> None:
    start, stages = runs.stages_for(preset, 100.0, 60.0)
    assert sum(d for d, _ in stages) == pytest.approx(60.0)
    assert all(d > 0 for d, _ in stages)
    assert max([start, *(t for _, t in stages)]) == 100.0


def test_step_and_spike_shapes() -> None:
    start, stages = runs.stages_for("step", 100.0, 40.0)
    assert start == 25.0
    assert [t for _, t in stages][::2] == [25.0, 50.0, 75.0, 100.0]
    start, stages = runs.stages_for("spike", 100.0, 100.0)
    assert start == 20.0
    assert [t for _, t in stages] == [20.0, 100.0, 100.0, 20.0, 20.0]


def test_curve_and_description() -> None:
    start, stages = runs.stages_for("ramp-up", 100.0, 40.0)
    assert runs.curve_points(start, stages) == "0.0,58.0 75.0,2.0 300.0,2.0"
    assert runs.describe_stages(start, stages) == "0→100 over 10 s, hold 100 for 30 s"


def test_form_bounds_come_from_limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "DRIVER_RATE_MAX", 100.0)
    monkeypatch.setattr(L, "DRIVER_CONCURRENCY_MAX", 10)
    monkeypatch.setattr(L, "DRIVER_DURATION_MAX_S", 60)
    with app.app_context():
        limits = cluster.run_limits()  # read at call time, through runs.service.bounds()
    assert limits == runs.RunLimits(rate_max=100, concurrency_max=10, duration_min_s=1, duration_max_s=60)
    form = cluster.parse_run_form({**RUN_OK, "target": "101", "duration_s": "61"}, limits)
    assert form.errors == {"target": "must be between 1 and 100 req/s", "duration_s": "must be between 1 and 60 s"}
    form = cluster.parse_run_form({**RUN_OK, "mode": "closed", "target": "10.5"}, limits)
    assert form.errors == {"target": "must be a whole number"}
    form = cluster.parse_run_form({**RUN_OK, "work": "iterations", "work_amount": "10"}, limits)
    assert form.errors == {"work_amount": f"must be between {L.ITERATIONS_MIN} and {L.ITERATIONS_MAX}"}


def test_form_builds_the_run_spec() -> None:
    limits = runs.RunLimits(rate_max=100, concurrency_max=10, duration_min_s=1, duration_max_s=60)
    form = cluster.parse_run_form({**RUN_OK, "name": " nightly "}, limits)
    assert form.ok
    assert form.body == {
        "name": "nightly",
        "url": None,
        "mode": "open",
        "start_target": 0.0,
        "stages": [{"duration_s": 5.0, "target": 40.0}, {"duration_s": 15.0, "target": 40.0}],
        "work": {"cpu_ms": 2.0},
        "thresholds": ["p99<250ms", "errors<1%"],
        "preset": "ramp-up",
    }


# --- the form, checked and started through runs.service ---------------------------------------------------


def _only_run(app: Flask) -> run_store.Run:
    [run] = run_store.list_runs(app.extensions[KEY].engine, source=RunOrigin.DASHBOARD)
    return run


def test_cluster_tab_shows_limits(ui: Any, form_bounds: None) -> None:
    html = ui.get("/ui/tabs/cluster").get_data(as_text=True)
    assert "rate 1–5000 req/s, or concurrency 1–200" in html
    assert f"iterations {L.ITERATIONS_MIN}–{L.ITERATIONS_MAX}" in html
    assert "<polyline" in html


def test_cluster_validation_and_preview(ui: Any, form_bounds: None) -> None:
    html = ui.post("/ui/cluster/validate?field=target", {**RUN_OK, "target": "0"}).get_data(as_text=True)
    assert "must be between 1 and 5000 req/s" in html
    html = ui.post("/ui/cluster/validate?field=url", {**RUN_OK, "url": "http://10.0.0.1/"}).get_data(as_text=True)
    assert "target 10.0.0.1:80 is not allowed" in html  # the SSRF guard's own message
    preview = ui.post("/ui/cluster/preview", {**RUN_OK, "preset": "step"}).get_data(as_text=True)
    assert "hold 10 for 5 s" in preview


def test_cluster_start_reaches_the_store_and_the_active_panel(app: Flask, ui: Any) -> None:
    response = ui.post("/ui/cluster", {**RUN_OK, "name": "smoke"})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "jobs-changed"
    run = _only_run(app)
    assert run.options.name == "smoke"
    assert run.status == RunStatus.PENDING  # no supervisor in a unit-test app
    active = ui.get("/ui/partials/active").get_data(as_text=True)
    assert f'data-run-id="{run.id}"' in active
    assert f'hx-post="/ui/runs/{run.id}/stop"' in active
    assert ui.post(f"/ui/runs/{run.id}/stop").status_code == 200
    assert _only_run(app).stop_requested
    seed_run(app, [5000] * 10, run_id=run.id)  # its shard honours the stop and finishes
    assert _only_run(app).status == RunStatus.STOPPED
    again = ui.post(f"/ui/runs/{run.id}/stop")
    assert again.status_code == 404
    assert "is not running" in again.get_data(as_text=True)
    assert ui.post("/ui/runs/nope/stop").status_code == 404


def test_service_errors_land_on_the_field_or_the_form(app: Flask, ui: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A threshold longer than limits.py allows: runs.service refuses `thresholds.0`, shown next to the p99 field.
    with monkeypatch.context() as patch:
        patch.setattr(L, "THRESHOLD_TEXT_MAX", 8)
        response = ui.post("/ui/cluster", RUN_OK)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="cluster-p99_ms-error"' in html
    assert "at most 8" in html
    # No room left on the pod (pending runs hold its places): admission's 409, shown on the form.
    for _ in range(app.extensions[KEY].limits.max_concurrent_runs):
        assert ui.post("/ui/cluster", RUN_OK).status_code == 200
    response = ui.post("/ui/cluster", RUN_OK)
    assert response.status_code == 409
    assert "MAX_CONCURRENT_RUNS" in response.get_data(as_text=True)


def test_history_filters(ui: Any, stored_runs: dict[str, str]) -> None:
    run_a, run_b = stored_runs["baseline"], stored_runs["after tuning"]
    html = ui.get("/ui/runs/partials/list?q=tuning").get_data(as_text=True)
    assert f'data-run-id="{run_b}"' in html
    assert f'data-run-id="{run_a}"' not in html
    html = ui.get("/ui/runs/partials/list?status=running").get_data(as_text=True)
    assert "No runs match." in html
    html = ui.get("/ui/runs?status=bogus&mode=bogus").get_data(as_text=True)
    assert f'data-run-id="{run_a}"' in html


def test_user_text_is_escaped_in_runs_pages(app: Flask, ui: Any, stored_runs: dict[str, str]) -> None:
    evil = "<script>alert(1)</script>"
    ui.post("/ui/cluster", {**RUN_OK, "name": evil})
    run = _only_run(app)
    compare = f"/ui/runs/compare?a={run.id}&b={stored_runs['baseline']}"
    for path in ("/ui/runs", f"/ui/runs/{run.id}", "/ui/partials/active", compare):
        html = ui.get(path).get_data(as_text=True)
        assert evil not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    html = ui.get(f"/ui/runs/partials/list?q={evil}").get_data(as_text=True)
    assert evil not in html
    assert "&lt;script&gt;" in html


def test_detail_data_and_compare(ui: Any, stored_runs: dict[str, str]) -> None:
    run_a, run_b = stored_runs["baseline"], stored_runs["after tuning"]
    data = ui.get(f"/ui/runs/{run_a}/data.json").get_json()
    assert data["time"]["t"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert data["pods"]["pod"] == ["pod-a", "pod-b"]
    assert data["codes"] == {"code": ["200", "500"], "count": [597, 3]}
    assert data["live"] is False
    assert ui.get("/ui/runs/nope").status_code == 404
    missing = ui.get(f"/ui/runs/compare?a={run_a}")
    assert missing.status_code == 400
    assert "Choose two runs" in missing.get_data(as_text=True)
    html = ui.get(f"/ui/runs/compare?a={run_a}&b={run_b}").get_data(as_text=True)
    assert "A: baseline" in html
    assert "B: after tuning" in html


# --- more of the store: the plan a form run stores, the histogram, a genuine driver state -----------------


def test_form_starts_a_run_in_the_store(app: Flask, ui: Any) -> None:
    response = ui.post("/ui/cluster", {**RUN_OK, "name": "stored", "preset": "step"})
    assert response.status_code == 200, response.get_data(as_text=True)
    engine = app.extensions[KEY].engine
    [run] = run_store.list_runs(engine)
    assert run.source == "dashboard"
    assert run.options.name == "stored"
    assert run.plan.mode == "open"
    assert [s.target for s in run.plan.stages][::2] == [10.0, 20.0, 30.0, 40.0]
    html = ui.get("/ui/runs").get_data(as_text=True)
    assert f'data-run-id="{run.id}"' in html
    assert ui.get(f"/ui/runs/{run.id}").status_code == 200
    data = ui.get(f"/ui/runs/{run.id}/data.json").get_json()
    assert data["live"] is True
    assert data["time"]["t"] == []
    assert ui.post(f"/ui/runs/{run.id}/stop").status_code == 200


def test_form_closed_loop_and_iterations(app: Flask, ui: Any) -> None:
    form = {**RUN_OK, "mode": "closed", "target": "6", "preset": "constant", "work": "iterations"}
    response = ui.post("/ui/cluster", {**form, "work_amount": "20000"})
    assert response.status_code == 200, response.get_data(as_text=True)
    [run] = run_store.list_runs(app.extensions[KEY].engine)
    assert run.plan.mode == "closed"
    assert run.plan.start_target == 6
    assert json.loads(run.plan.body) == {"iterations": 20000}


def test_form_refuses_other_hosts_next_to_the_url(ui: Any) -> None:
    html = ui.post("/ui/cluster/validate?field=url", {**RUN_OK, "url": "http://example.com/"}).get_data(as_text=True)
    assert "example.com" in html
    response = ui.post("/ui/cluster", {**RUN_OK, "url": "http://example.com/"})
    assert response.status_code == 422
    assert 'id="cluster-url-error"' in response.get_data(as_text=True)


def test_latency_buckets_from_shard_histograms() -> None:
    hist = histo.new_histogram()
    for value_us in (80, 150, 900, 1500, 4000, 4000):
        hist.record_value(value_us)
    buckets = runs_data.latency_buckets([histo.encode(hist)])
    assert buckets[0][0] <= 0.08 < buckets[0][1]  # (low ms, high ms, count): each value inside its own bin
    assert buckets[0][2] == 1
    assert sum(c for _, _, c in buckets) == 6
    assert buckets[-1][0] <= 4.0 < buckets[-1][1]
    assert buckets[-1][2] == 2
    assert [b[0] for b in buckets[1:]] == [b[1] for b in buckets[:-1]]  # contiguous, empty bins kept between
    assert runs_data.latency_buckets([]) == []


def test_pages_show_a_real_driver_state(app: Flask, ui: Any) -> None:
    """A genuine driver state (the engine run in-process against this app) read back through the store."""
    import asyncio
    import threading

    from load_harness.driver.plan import constant_plan
    from load_harness.driver.runner import Runner
    from load_harness.runs.model import RunOptions, RunOrigin
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        plan = constant_plan(f"http://127.0.0.1:{server.server_port}/health", "open", 40, 2.0)
        state = asyncio.run(Runner(plan).run())
    finally:
        server.shutdown()
        thread.join(5)
    engine = app.extensions[KEY].engine
    run = run_store.create(
        engine,
        target=plan.url,
        plan=plan.to_record(),
        options=RunOptions(thresholds=["p99<5s"], name="in-process"),
        shards=1,
        source=RunOrigin.DASHBOARD,
        pod="test-pod",
    )
    run_store.shard_started(engine, run.id, 0, "host", 1)
    run_store.shard_progress(engine, run.id, 0, state, finished=True)
    run_store.finish_if_complete(engine, run.id)

    data = ui.get(f"/ui/runs/{run.id}/data.json").get_json()
    assert data["status"] == "completed"
    assert len(data["time"]["t"]) >= 2
    assert data["time"]["t"][0] == 0
    assert sum(data["histogram"]["count"]) == state.counters.completed == 80
    assert data["pods"] == {"pod": ["test-pod"], "requests": [80]}
    assert data["codes"] == {"code": ["200"], "count": [80]}
    html = ui.get(f"/ui/runs/{run.id}").get_data(as_text=True)
    assert "in-process" in html
    assert "p99&lt;5s" in html
    assert "passed" in html
    listed = ui.get("/ui/runs/partials/list?q=in-process").get_data(as_text=True)
    assert f'data-run-id="{run.id}"' in listed
