"""POST /load/memory/sync and memory jobs share one memory budget per pod (finding 2: six concurrent 256 MiB syncs
were all accepted under a 256 MiB limit). A sync reserves its bytes in the store for as long as it holds them;
over the budget it is a 409 problem, and a reservation whose web worker died is reaped by the supervisor.

The budget is made small (MEMORY_SAFETY_MB = the machine's memory minus BUDGET_MB), so the allocations are real
and cheap. Concurrent requests start together behind a barrier and hold for HOLD_MS, far longer than it takes
every one of them to be admitted or refused, so which ones fit does not depend on scheduling."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from lh_support import start_server, wait_for
from load_harness.cgroups import read_limits
from load_harness.context import KEY
from load_harness.limits import MIB
from load_harness.store import jobs as job_store
from load_harness.store.engine import make_engine
from load_harness.store.tables import jobs

BUDGET_MB = 40
SYNC_MB = 16  # two fit in the budget (32 MiB), a third does not (48 MiB)
HOLD_MS = 4000


def safety_for(budget_mb: int) -> int:
    """MEMORY_SAFETY_MB that leaves exactly `budget_mb` for jobs and syncs on this machine."""
    return read_limits().effective_memory_bytes // MIB - budget_mb


@pytest.fixture
def small_app(app_factory: Callable[..., Flask]) -> Flask:
    app = app_factory(memory_safety_mb=safety_for(BUDGET_MB))
    assert app.extensions[KEY].limits.memory_max_mb == BUDGET_MB
    return app


def sync(app: Flask, size_mb: int, duration_ms: int) -> Any:
    return app.test_client().post("/load/memory/sync", json={"size_mb": size_mb, "duration_ms": duration_ms})


def reservations(app: Flask) -> list[sa.Row[Any]]:
    with app.extensions[KEY].engine.connect() as conn:
        query = sa.select(jobs).where(jobs.c.kind == job_store.SYNC_KIND, jobs.c.status == "running")
        return list(conn.execute(query))


def test_concurrent_syncs_get_exactly_the_room_there_is(small_app: Flask) -> None:
    count = 6
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    problems: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        response = sync(small_app, SYNC_MB, HOLD_MS)
        with lock:
            statuses.append(response.status_code)
            if response.status_code != 200:
                problems.append(response.get_json())

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    fit = BUDGET_MB // SYNC_MB
    assert sorted(statuses) == [200] * fit + [409] * (count - fit)
    for problem in problems:
        assert problem["type"].endswith("/admission")
        assert f"would exceed {BUDGET_MB} MiB" in problem["detail"]
        assert "MEMORY_SAFETY_MB" in problem["detail"]
    # Every reservation ended with its request: the whole budget is free again.
    assert reservations(small_app) == []
    assert sync(small_app, BUDGET_MB, 1).status_code == 200


def test_a_memory_job_holding_the_budget_refuses_syncs(small_app: Flask) -> None:
    client = small_app.test_client()
    started = client.post("/load/memory", json={"size_mb": BUDGET_MB - 4, "duration_seconds": 60})
    assert started.status_code == 200, started.get_data(as_text=True)
    refused = sync(small_app, 8, 1)
    assert refused.status_code == 409
    assert f"holds {BUDGET_MB - 4} MiB" in refused.get_json()["detail"]
    assert sync(small_app, 4, 1).status_code == 200  # what is left still fits
    # The supervisor ends the job (this app has none, so do what it does): the budget is free again.
    job_store.finish(small_app.extensions[KEY].engine, started.get_json()["job_id"], "completed", None, None)
    assert sync(small_app, BUDGET_MB, 1).status_code == 200


def test_a_sync_holding_the_budget_refuses_memory_jobs(small_app: Flask) -> None:
    client = small_app.test_client()
    holder = threading.Thread(target=sync, args=(small_app, BUDGET_MB - 8, HOLD_MS))
    holder.start()
    try:
        assert wait_for(lambda: reservations(small_app), timeout=10)
        refused = client.post("/load/memory", json={"size_mb": 16, "duration_seconds": 5})
        assert refused.status_code == 409
        assert "/load/memory/sync" in refused.get_json()["detail"]
        # Syncs are not jobs: they do not use up MAX_CONCURRENT_JOBS, and a CPU job is still admitted.
        cpu = client.post("/load/cpu", json={"cores": 1, "duration_seconds": 5, "utilization": 10})
        assert cpu.status_code == 200
        assert client.get("/load/memory/status").get_json()["total_jobs"] == 0
    finally:
        holder.join(timeout=60)
    assert reservations(small_app) == []
    assert client.post("/load/memory", json={"size_mb": 16, "duration_seconds": 5}).status_code == 200


def test_reservations_of_dead_workers_are_reaped(small_app: Flask) -> None:
    engine = small_app.extensions[KEY].engine
    budget = BUDGET_MB * MIB

    def reserve(size_mb: int, owner: str, hold_s: float = 60.0) -> job_store.Job:
        return job_store.reserve_memory(engine, "test-pod", size_mb * MIB, hold_s, budget, {}, owner)

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_owner = job_store.owner_of(worker.pid)
    finally:
        worker.kill()
        worker.wait()
    live = reserve(8, job_store.process_owner())
    dead = reserve(24, dead_owner)
    with pytest.raises(job_store.AdmissionError):
        reserve(16, job_store.process_owner())
    assert job_store.reap_syncs(engine, "test-pod") == 1
    assert job_store.get(engine, dead.id).status == "lost"  # type: ignore[union-attr]
    assert job_store.get(engine, live.id).status == "running"  # type: ignore[union-attr]
    reserve(16, job_store.process_owner())  # the dead worker's 24 MiB are free again
    # The deadline is the backstop when no supervisor runs: an expired reservation no longer counts.
    expired = reserve(16, job_store.process_owner(), hold_s=0.01)
    time.sleep(0.05)
    reserve(16, job_store.process_owner())
    job_store.release(engine, live.id)
    assert job_store.get(engine, live.id) is None
    assert job_store.get(engine, expired.id) is not None  # left for reap_syncs, which marks it lost
    assert job_store.reap_syncs(engine, "test-pod") == 1


def test_owner_names_survive_pid_reuse() -> None:
    me = job_store.process_owner()
    assert job_store.owner_alive(me)
    _, pid, ticks = me.split(":")
    # The start time in clock ticks since boot (/proc/<pid>/stat field 22): fixed for the process's life, unlike
    # psutil's create_time(), which moves with the wall clock on a busy VM.
    assert ticks == Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    assert not job_store.owner_alive(f"pid:{pid}:{int(ticks) - 100}")  # the same pid, another process
    assert not job_store.owner_alive("garbage")


@pytest.mark.slow
def test_served_server_reaps_a_killed_workers_sync(tmp_path: Path) -> None:
    """End to end: kill -9 the web worker in the middle of a sync; the supervisor frees its reservation."""
    server = start_server(tmp_path, extra_env={"MEMORY_SAFETY_MB": str(safety_for(BUDGET_MB))})
    engine = make_engine(server.env["DATABASE_URL"])
    try:
        url = server.url + "/load/memory/sync"

        def doomed() -> None:
            with contextlib.suppress(requests.RequestException):  # the worker is killed under it
                requests.post(url, json={"size_mb": BUDGET_MB, "duration_ms": 60_000}, timeout=90)

        thread = threading.Thread(target=doomed)
        thread.start()

        def owner() -> str | None:
            running = sa.and_(jobs.c.kind == job_store.SYNC_KIND, jobs.c.status == "running")
            with engine.connect() as conn:
                return conn.execute(sa.select(jobs.c.claimed_by).where(running)).scalar()

        assert wait_for(owner, timeout=20)
        assert requests.post(url, json={"size_mb": 1, "duration_ms": 1}, timeout=30).status_code == 409
        os.kill(int(str(owner()).split(":")[1]), signal.SIGKILL)
        # gunicorn starts a new worker, the supervisor's next heartbeat (every 5 s) reaps the reservation.
        assert wait_for(
            lambda: requests.post(url, json={"size_mb": BUDGET_MB, "duration_ms": 1}, timeout=5).status_code == 200,
            timeout=30,
            interval=0.5,
        ), server.log()[-3000:]
        thread.join(timeout=30)
        with engine.connect() as conn:
            lost = conn.execute(sa.select(jobs.c.status, jobs.c.error).where(jobs.c.kind == job_store.SYNC_KIND)).all()
        assert [row.status for row in lost] == ["lost"]
    finally:
        engine.dispose()
        server.stop()
