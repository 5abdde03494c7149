"""Jobs on a real server started through the console script: accuracy, sharing between workers, shutdown."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import requests
from lh_support import RunningServer, start_server, wait_for
from lh_support_procs import cpu_seconds, job_processes, supervisor_of, tree_pss

pytestmark = pytest.mark.slow


def job_status(server: RunningServer, kind: str, job_id: str) -> dict[str, object]:
    for job in server.get(f"/load/{kind}/status?limit=100").json()["jobs"]:
        if job["job_id"] == job_id:
            return job
    raise LookupError(job_id)


def test_cpu_job_hits_each_utilisation_target(server: RunningServer) -> None:
    """25/50/75/100 % of one core, two jobs at a time, measured in process CPU time after settling."""
    for pair in ((25, 75), (50, 100)):
        ids = []
        for target in pair:
            response = server.post("/load/cpu", json={"cores": 1, "utilization": target, "duration_seconds": 8})
            assert response.status_code == 200, response.text
            ids.append(response.json()["job_id"])
        assert wait_for(lambda: len(job_processes(server.proc.pid)) == 2)
        time.sleep(1.5)  # settling
        procs = {p.pid: p for p in job_processes(server.proc.pid)}
        by_job = {}
        for proc in procs.values():
            name = proc.name()
            by_job[proc.pid] = name
        before = {pid: cpu_seconds([p]) for pid, p in procs.items()}
        t0 = time.monotonic()
        time.sleep(5)
        elapsed = time.monotonic() - t0
        measured = sorted(100 * (cpu_seconds([p]) - before[pid]) / elapsed for pid, p in procs.items())
        for got, want in zip(measured, sorted(pair), strict=True):
            assert abs(got - want) <= 2.0, f"target {want} %, measured {got:.2f} %"
        server.post("/load/cpu/stop", json={})
        assert wait_for(lambda: not job_processes(server.proc.pid), timeout=5)


def test_memory_job_holds_exact_pss_and_releases_fast(server: RunningServer) -> None:
    # The work pool starts in the background with each web worker; let it finish before the baseline.
    assert server.post("/load/cpu/work", json={"cpu_ms": 1}).status_code == 200
    time.sleep(1.0)
    baseline = tree_pss(server.proc.pid)
    job = server.post("/load/memory", json={"size_mb": 256, "duration_seconds": 60}).json()
    assert wait_for(lambda: job_status(server, "memory", job["job_id"]).get("peak_rss_bytes"), timeout=10)
    time.sleep(0.5)
    held = tree_pss(server.proc.pid) - baseline
    assert abs(held - 256 * 2**20) <= 0.05 * 256 * 2**20, f"held {held / 2**20:.1f} MiB"
    server.post("/load/memory/stop", json={"job_id": job["job_id"]})
    stopped_at = time.monotonic()
    assert wait_for(lambda: tree_pss(server.proc.pid) - baseline <= 10 * 2**20, timeout=1.0), (
        f"still {(tree_pss(server.proc.pid) - baseline) / 2**20:.1f} MiB above baseline"
    )
    assert time.monotonic() - stopped_at <= 1.0
    assert wait_for(lambda: job_status(server, "memory", job["job_id"])["status"] == "stopped")


def test_jobs_are_shared_between_gunicorn_workers(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    try:
        started = requests.post(server.url + "/load/cpu", json={"utilization": 10, "duration_seconds": 60}, timeout=5)
        job_id = started.json()["job_id"]
        workers_seen = set()
        for attempt in range(400):
            if len(workers_seen) == 2 and attempt >= 20:
                break
            # A new connection each time, so the kernel hands the requests to both workers' accept loops.
            response = requests.get(server.url + "/load/cpu/status", headers={"Connection": "close"}, timeout=5)
            workers_seen.add(response.headers["X-Worker-PID"])
            assert job_id in [j["job_id"] for j in response.json()["jobs"]]
        assert len(workers_seen) == 2
        stop = requests.post(server.url + "/load/cpu/stop", json={"job_id": job_id}, timeout=5)
        assert stop.json()["stopped_jobs"] == [job_id]
        assert wait_for(lambda: job_status(server, "cpu", job_id)["status"] == "stopped")
    finally:
        server.stop()


def test_sigkill_leaves_no_job_processes_and_next_start_marks_them_lost(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    cpu = server.post("/load/cpu", json={"cores": 1, "utilization": 50, "duration_seconds": 120}).json()["job_id"]
    mem = server.post("/load/memory", json={"size_mb": 32, "duration_seconds": 120}).json()["job_id"]
    assert wait_for(lambda: len(job_processes(server.proc.pid)) == 2)
    doomed = [supervisor_of(server.proc.pid), *job_processes(server.proc.pid)]
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    _gone, alive = psutil.wait_procs(doomed, timeout=2)
    assert not alive, f"still alive after 2 s: {alive}"
    restarted = start_server(tmp_path)
    try:
        assert job_status(restarted, "cpu", cpu)["status"] == "lost"
        assert job_status(restarted, "memory", mem)["status"] == "lost"
    finally:
        restarted.stop()


def test_sigterm_stops_and_records_every_job_within_10s(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    cpu = server.post("/load/cpu", json={"utilization": 30, "duration_seconds": 120}).json()["job_id"]
    mem = server.post("/load/memory", json={"size_mb": 16, "duration_seconds": 120}).json()["job_id"]
    assert wait_for(lambda: len(job_processes(server.proc.pid)) == 2)
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - started < 10
    restarted = start_server(tmp_path)
    try:
        assert job_status(restarted, "cpu", cpu)["status"] == "stopped"
        assert job_status(restarted, "memory", mem)["status"] == "stopped"
    finally:
        restarted.stop()


def test_admission_control_refuses_over_budget(server: RunningServer) -> None:
    cores = server.get("/system/info").json()["limits"]["cpu_budget_cores"]
    first = server.post("/load/cpu", json={"cores": 1, "utilization": 100, "duration_seconds": 30})
    assert first.status_code == 200
    needed = int(cores) + 1
    too_much = server.post(
        "/load/cpu",
        json={"cores": max(1, min(needed - 1, int(cores))), "utilization": 100, "duration_seconds": 30},
    )
    assert too_much.status_code == 409
    assert "budget" in too_much.json()["detail"]
    server.post("/load/cpu/stop", json={})


def test_concurrent_job_limit(tmp_path: Path) -> None:
    server = start_server(tmp_path, extra_env={"MAX_CONCURRENT_JOBS": "2"})
    try:
        for _ in range(2):
            assert server.post("/load/memory", json={"size_mb": 1, "duration_seconds": 30}).status_code == 200
        refused = server.post("/load/memory", json={"size_mb": 1, "duration_seconds": 30})
        assert refused.status_code == 409
        assert "MAX_CONCURRENT_JOBS" in refused.json()["detail"]
    finally:
        server.stop()


def test_job_completes_at_its_deadline_with_measurements(server: RunningServer) -> None:
    job_id = server.post("/load/cpu", json={"utilization": 50, "duration_seconds": 2}).json()["job_id"]
    assert wait_for(lambda: job_status(server, "cpu", job_id)["status"] == "completed", timeout=6)
    job = job_status(server, "cpu", job_id)
    assert job["completed_at"] is not None
    assert 0.6 <= float(job["cpu_seconds"]) <= 1.4  # type: ignore[arg-type]
    assert not job_processes(server.proc.pid)
