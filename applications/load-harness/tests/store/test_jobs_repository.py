"""The jobs repository on real SQLite and real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from load_harness.store import jobs, pods
from load_harness.store.migrate import current
from sqlalchemy.engine import Engine

BUDGET = jobs.Budget(cpu_cores=2.0, max_jobs=3, memory_bytes=512 * 2**20)


def cpu_job(pod: str = "p1", cores: float = 1.0, duration: float = 30) -> jobs.NewJob:
    return jobs.NewJob("cpu", {"cores": 1, "duration_seconds": duration}, pod, duration, cpu_cores=cores)


def test_migrations_reach_head(engine: Engine) -> None:
    assert current(engine) is not None


def test_create_list_get(engine: Engine) -> None:
    job = jobs.create(engine, cpu_job(), BUDGET, clock=lambda: 1000.0)
    assert job.id.startswith("job_1000000_")
    assert job.status == "running"
    assert job.deadline_at == 1030.0
    assert jobs.get(engine, job.id) == job
    assert [j.id for j in jobs.list_jobs(engine, kind="cpu")] == [job.id]
    assert jobs.list_jobs(engine, kind="memory") == []
    assert jobs.count(engine, kind="cpu", status="running") == 1


def test_admission_by_cores_jobs_and_memory(engine: Engine) -> None:
    jobs.create(engine, cpu_job(cores=1.5), BUDGET)
    with pytest.raises(jobs.AdmissionError, match="budget of 2 cores"):
        jobs.create(engine, cpu_job(cores=1.0), BUDGET)
    jobs.create(engine, cpu_job(cores=0.5), BUDGET)
    # Another pod has its own budget.
    jobs.create(engine, cpu_job(pod="p2", cores=2.0), BUDGET)
    memory = jobs.NewJob("memory", {"size_mb": 400, "duration_seconds": 30}, "p1", 30, memory_bytes=400 * 2**20)
    jobs.create(engine, memory, BUDGET)
    with pytest.raises(jobs.AdmissionError, match="already runs 3 jobs"):
        jobs.create(engine, memory, BUDGET)


def test_memory_budget(engine: Engine) -> None:
    memory = jobs.NewJob("memory", {"size_mb": 300, "duration_seconds": 30}, "p1", 30, memory_bytes=300 * 2**20)
    jobs.create(engine, memory, BUDGET)
    with pytest.raises(jobs.AdmissionError, match="MEMORY_SAFETY_MB"):
        jobs.create(engine, memory, BUDGET)


def test_concurrent_admission_is_atomic(engine: Engine) -> None:
    """Ten threads race for a budget of two one-core jobs: exactly two win."""
    results: list[str] = []
    budget = jobs.Budget(cpu_cores=2.0, max_jobs=10, memory_bytes=0)

    def attempt() -> None:
        try:
            jobs.create(engine, cpu_job(cores=1.0), budget)
            results.append("ok")
        except jobs.AdmissionError:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 2
    assert results.count("refused") == 8


def test_stop_claim_finish_and_lost(engine: Engine) -> None:
    a = jobs.create(engine, cpu_job(cores=0.5), BUDGET, clock=lambda: 100.0)
    b = jobs.create(engine, cpu_job(cores=0.5), BUDGET, clock=lambda: 101.0)
    claimed = jobs.claim(engine, "p1", "sup-1", clock=lambda: 102.0)
    assert {j.id for j in claimed} == {a.id, b.id}
    assert jobs.claim(engine, "p1", "sup-1") == []
    assert jobs.request_stop(engine, "cpu", a.id) == [a.id]
    assert jobs.stop_requested_ids(engine, "sup-1") == {a.id}
    jobs.finish(engine, a.id, "stopped", 1.25, 1024, clock=lambda: 103.0)
    stopped = jobs.get(engine, a.id)
    assert stopped is not None
    assert (stopped.status, stopped.cpu_seconds, stopped.finished_at) == ("stopped", 1.25, 103.0)
    # A finished job cannot be finished again.
    jobs.finish(engine, a.id, "completed", 9.0, 1, clock=lambda: 104.0)
    assert jobs.get(engine, a.id).status == "stopped"  # type: ignore[union-attr]
    # A new supervisor of the same pod finds b claimed by the dead one: lost.
    c = jobs.create(engine, cpu_job(cores=0.5), BUDGET, clock=lambda: 200.0)
    assert jobs.mark_lost(engine, "p1", "sup-2", supervisor_started=150.0) == 1
    assert jobs.get(engine, b.id).status == "lost"  # type: ignore[union-attr]
    assert jobs.get(engine, c.id).status == "running"  # type: ignore[union-attr]


def test_request_stop_all_of_a_kind(engine: Engine) -> None:
    ids = {jobs.create(engine, cpu_job(cores=0.1), BUDGET).id for _ in range(2)}
    assert set(jobs.request_stop(engine, "cpu")) == ids
    assert jobs.request_stop(engine, "memory") == []


def test_chaos_rows(engine: Engine) -> None:
    assert pods.get_chaos(engine, "*") is None
    pods.set_chaos(engine, "*", pods.Chaos(0.5, 20))
    assert pods.get_chaos(engine, "*") == pods.Chaos(0.5, 20)
    pods.set_chaos(engine, "*", None)
    assert pods.get_chaos(engine, "*") is None


def test_head_revision_constant_matches_alembic() -> None:
    from load_harness.store.migrate import HEAD_REVISION, script_head

    assert script_head() == HEAD_REVISION


def test_sync_reservations_share_the_memory_budget(engine: Engine) -> None:
    """/load/memory/sync reservations and memory jobs draw on one budget, atomically, on both backends."""
    mib = 2**20
    memory = jobs.NewJob("memory", {"size_mb": 300, "duration_seconds": 30}, "p1", 30, memory_bytes=300 * mib)
    jobs.create(engine, memory, BUDGET, clock=lambda: 1000.0)

    def reserve(size_mb: int, owner: str = "pid:1:1.000", now: float = 1000.0) -> jobs.Job:
        return jobs.reserve_memory(engine, "p1", size_mb * mib, 10, BUDGET.memory_bytes, {}, owner, clock=lambda: now)

    sync = reserve(200)
    with pytest.raises(jobs.AdmissionError, match="memory/sync"):
        reserve(20)
    with pytest.raises(jobs.AdmissionError, match="MEMORY_SAFETY_MB"):
        jobs.create(engine, memory, BUDGET, clock=lambda: 1000.0)
    # A reservation is neither a job to start, nor one to list or count, nor one to mark lost at start-up.
    assert [j.kind for j in jobs.claim(engine, "p1", "sup")] == ["memory"]
    assert [j.kind for j in jobs.list_jobs(engine)] == ["memory"]
    assert jobs.count(engine, status="running") == 1
    jobs.mark_lost(engine, "p1", "another-supervisor", 2000.0)
    assert jobs.get(engine, sync.id).status == "running"  # type: ignore[union-attr]
    # After its deadline it no longer counts, and the reaper marks it lost; so does a dead owner.
    later = reserve(200, now=1011.0)
    assert jobs.reap_syncs(engine, "p1", alive=lambda owner: True, clock=lambda: 1011.0) == 1
    assert jobs.get(engine, sync.id).status == "lost"  # type: ignore[union-attr]
    fresh = reserve(1, now=1011.0)
    assert jobs.reap_syncs(engine, "p1", alive=lambda owner: owner != "dead", clock=lambda: 1011.0) == 0
    jobs.release(engine, fresh.id)
    assert jobs.get(engine, fresh.id) is None
    dead = reserve(1, owner="dead", now=1011.0)
    assert jobs.reap_syncs(engine, "p1", alive=lambda owner: owner != "dead", clock=lambda: 1011.0) == 1
    assert jobs.get(engine, dead.id).status == "lost"  # type: ignore[union-attr]
    assert jobs.get(engine, later.id).status == "running"  # type: ignore[union-attr]
