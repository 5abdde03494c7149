"""The CPU and Memory tabs: limits shown from the source of truth, validation as you type, start, active list,
stop, and escaping of text that did not come from us."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from load_harness import limits as L
from load_harness.context import KEY
from load_harness.store import jobs as job_store

CPU_OK = {"cores": "1", "utilization": "50", "duration_seconds": "30"}
MEM_OK = {"size_mb": "16", "duration_seconds": "30"}


def test_cpu_form_shows_limits_from_the_source_of_truth(app: Flask, ui: Any) -> None:
    pod = app.extensions[KEY].limits
    html = ui.get("/ui/tabs/cpu").get_data(as_text=True)
    assert f'max="{pod.cores_max}"' in html
    assert f"1–{pod.cores_max} burner processes" in html
    assert f'max="{L.CPU_DURATION_MAX_S}"' in html
    assert f"{L.UTILIZATION_MIN}–{L.UTILIZATION_MAX} %" in html


def test_memory_form_max_is_the_container_limit(app: Flask, ui: Any) -> None:
    pod = app.extensions[KEY].limits
    html = ui.get("/ui/tabs/memory").get_data(as_text=True)
    assert f'max="{pod.memory_max_mb}"' in html
    assert f"{L.MEMORY_MB_MIN}–{pod.memory_max_mb} MiB" in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cores", "abc", "must be a whole number"),
        ("cores", "", "enter a value"),
        ("cores", "0", "greater than or equal to 1"),
        ("utilization", "101", "less than or equal to 100"),
        ("duration_seconds", "1.5", "must be a whole number"),
        ("duration_seconds", str(L.CPU_DURATION_MAX_S + 1), f"less than or equal to {L.CPU_DURATION_MAX_S}"),
    ],
)
def test_cpu_validation_returns_the_servers_message(ui: Any, field: str, value: str, message: str) -> None:
    response = ui.post(f"/ui/cpu/validate?field={field}", {**CPU_OK, field: value})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_validation_of_a_valid_field_is_empty(ui: Any) -> None:
    response = ui.post("/ui/cpu/validate?field=cores", CPU_OK)
    assert response.get_data(as_text=True).strip() == ""


def test_pod_bound_comes_from_the_api_check(app: Flask, ui: Any) -> None:
    too_many = app.extensions[KEY].limits.cores_max + 1
    if too_many > L.CPU_CORES_MAX:
        pytest.skip("this machine's core count reaches the static maximum")
    html = ui.post("/ui/cpu/validate?field=cores", {**CPU_OK, "cores": str(too_many)}).get_data(as_text=True)
    assert "available cores" in html


def test_memory_over_the_container_limit_is_refused(app: Flask, ui: Any) -> None:
    over = app.extensions[KEY].limits.memory_max_mb + 1
    html = ui.post("/ui/memory/validate?field=size_mb", {**MEM_OK, "size_mb": str(over)}).get_data(as_text=True)
    assert f"must be ≤ {over - 1} MiB" in html or "less than or equal" in html


def test_start_cpu_job_appears_in_the_active_list(ui: Any) -> None:
    response = ui.post("/ui/cpu", CPU_OK)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "jobs-changed"
    html = response.get_data(as_text=True)
    job_id = re.search(r"Started <code>(job_[^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    # Every field's error slot is cleared out of band.
    assert html.count('hx-swap-oob="true"') == 3
    active = ui.get("/ui/partials/active").get_data(as_text=True)
    assert f'data-job-id="{job_id}"' in active
    assert "data-expires-at=" in active
    assert f'hx-post="/ui/jobs/{job_id}/stop"' in active


def test_start_memory_job(ui: Any) -> None:
    response = ui.post("/ui/memory", MEM_OK)
    assert response.status_code == 200
    assert "16 MiB" in response.get_data(as_text=True)


def test_invalid_start_marks_fields_and_starts_nothing(app: Flask, ui: Any) -> None:
    response = ui.post("/ui/cpu", {**CPU_OK, "utilization": "0"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "fix the fields marked above" in html
    assert re.search(r'id="cpu-utilization-error"[^>]*hx-swap-oob="true">[^<]*greater than or equal to 1', html)
    assert job_store.count(app.extensions[KEY].engine) == 0


def test_admission_refusal_shows_the_apis_detail(app: Flask, ui: Any) -> None:
    pod = app.extensions[KEY].limits
    for _ in range(pod.max_concurrent_jobs):
        assert ui.post("/ui/memory", {"size_mb": "1", "duration_seconds": "30"}).status_code == 200
    response = ui.post("/ui/memory", {"size_mb": "1", "duration_seconds": "30"})
    assert response.status_code == 409
    assert "MAX_CONCURRENT_JOBS" in response.get_data(as_text=True)


def test_stop_from_the_panel(app: Flask, ui: Any) -> None:
    html = ui.post("/ui/cpu", CPU_OK).get_data(as_text=True)
    job_id = re.search(r"Started <code>(job_[^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    response = ui.post(f"/ui/jobs/{job_id}/stop")
    assert response.status_code == 200
    assert f"Stopping {job_id}." in response.get_data(as_text=True)
    job = job_store.get(app.extensions[KEY].engine, job_id)
    assert job is not None
    assert job.stop_requested


def test_stop_unknown_job_is_a_404_in_the_panel(ui: Any) -> None:
    response = ui.post("/ui/jobs/job_nope/stop")
    assert response.status_code == 404
    assert "No job with id &#39;job_nope&#39;" in response.get_data(as_text=True)


def test_stop_finished_job_says_so(app: Flask, ui: Any) -> None:
    html = ui.post("/ui/cpu", CPU_OK).get_data(as_text=True)
    job_id = re.search(r"Started <code>(job_[^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    job_store.finish(app.extensions[KEY].engine, job_id, "completed", 1.0, None)
    assert "had already completed" in ui.post(f"/ui/jobs/{job_id}/stop").get_data(as_text=True)


def test_text_from_the_store_is_escaped(app: Flask, ui: Any) -> None:
    html = ui.post("/ui/cpu", CPU_OK).get_data(as_text=True)
    job_id = re.search(r"Started <code>(job_[^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    evil = '<img src=x onerror="alert(1)">'
    job_store.finish(app.extensions[KEY].engine, job_id, "failed", None, None, error=evil)
    active = ui.get("/ui/partials/active").get_data(as_text=True)
    assert evil not in active
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in active


def test_hostile_field_text_is_not_echoed_raw(ui: Any) -> None:
    evil = "<script>alert(1)</script>"
    html = ui.post("/ui/cpu", {**CPU_OK, "cores": evil}).get_data(as_text=True)
    assert "<script>" not in html
