"""The metrics that observability/rules reads have the shape those rules assume: the latency SLI's le="0.2"
bucket, and the overdue-job gauge behind LoadHarnessJobPastDeadline."""

from __future__ import annotations

import time

from flask import Flask
from load_harness.context import KEY
from load_harness.store import jobs
from prometheus_client.parser import text_string_to_metric_families

BUDGET = jobs.Budget(cpu_cores=4.0, max_jobs=8, memory_bytes=2**30)


def scrape(app: Flask) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def overdue_seconds(app: Flask) -> float:
    [(labels, value)] = scrape(app)["load_harness_job_overdue_seconds"]
    assert labels == {}
    return value


def add_cpu_job(app: Flask, created_at: float, duration_s: float) -> jobs.Job:
    new = jobs.NewJob("cpu", {"cores": 1, "duration_seconds": duration_s}, "test-pod", duration_s, cpu_cores=1)
    return jobs.create(app.extensions[KEY].engine, new, BUDGET, clock=lambda: created_at)


def test_latency_histogram_has_the_slo_threshold_as_a_bucket(app: Flask) -> None:
    app.test_client().get("/health")
    bounds = {
        labels["le"]
        for labels, _ in scrape(app)["flask_http_request_duration_seconds_bucket"]
        if labels.get("path") == "/health"
    }
    assert "0.2" in bounds, sorted(bounds, key=float)


def test_overdue_gauge_is_zero_without_running_jobs_past_their_deadline(app: Flask) -> None:
    assert overdue_seconds(app) == 0.0
    add_cpu_job(app, created_at=time.time(), duration_s=3600)
    assert overdue_seconds(app) == 0.0


def test_overdue_gauge_reports_the_most_overdue_running_job(app: Flask) -> None:
    now = time.time()
    add_cpu_job(app, created_at=now - 600, duration_s=60)  # deadline 540 s ago
    add_cpu_job(app, created_at=now - 600, duration_s=500)  # deadline 100 s ago
    add_cpu_job(app, created_at=now, duration_s=3600)  # not due
    assert 540 <= overdue_seconds(app) < 600


def test_finished_jobs_are_never_overdue(app: Flask) -> None:
    job = add_cpu_job(app, created_at=time.time() - 600, duration_s=60)
    jobs.finish(app.extensions[KEY].engine, job.id, "completed", 1.0, 4096)
    assert overdue_seconds(app) == 0.0
