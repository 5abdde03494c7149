"""The supervisor loop with an injected clock and fake processes: runs in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from load_harness.store import jobs
from load_harness.supervisor.core import Supervisor
from sqlalchemy.engine import Engine

BUDGET = jobs.Budget(cpu_cores=4.0, max_jobs=8, memory_bytes=2**30)


@dataclass
class FakeRunning:
    job: jobs.Job
    cpu: float = 0.0
    died: bool = False
    stopped: bool = False
    stop_event: object = field(default_factory=lambda: type("E", (), {"set": lambda self: None})())

    def measure(self) -> tuple[float, int]:
        return self.cpu, 4096

    def failed(self) -> bool:
        return self.died

    def stop(self) -> None:
        self.stopped = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(engine: Engine, clock: Clock) -> tuple[Supervisor, dict[str, FakeRunning]]:
    started: dict[str, FakeRunning] = {}

    def start(job: jobs.Job, _now: float) -> FakeRunning:
        started[job.id] = FakeRunning(job)
        return started[job.id]

    return Supervisor(engine, "p1", "sup", clock=clock, start=start), started  # type: ignore[arg-type]


def new(engine: Engine, clock: Clock, duration: float = 10) -> jobs.Job:
    job = jobs.NewJob("cpu", {"cores": 1, "duration_seconds": duration}, "p1", duration, cpu_cores=1)
    return jobs.create(engine, job, BUDGET, clock=clock)


def test_claims_runs_and_completes_at_deadline(engine: Engine) -> None:
    clock = Clock()
    supervisor, started = make(engine, clock)
    job = new(engine, clock)
    supervisor.tick()
    assert job.id in started
    started[job.id].cpu = 9.5
    clock.now += 9.9
    supervisor.tick()
    assert jobs.get(engine, job.id).status == "running"  # type: ignore[union-attr]
    clock.now += 0.2
    supervisor.tick()
    done = jobs.get(engine, job.id)
    assert done is not None
    assert (done.status, done.cpu_seconds, done.peak_rss_bytes) == ("completed", 9.5, 4096)
    assert started[job.id].stopped


def test_stop_request_from_any_worker(engine: Engine) -> None:
    clock = Clock()
    supervisor, started = make(engine, clock)
    job = new(engine, clock)
    supervisor.tick()
    jobs.request_stop(engine, "cpu", job.id)
    supervisor.tick()
    assert jobs.get(engine, job.id).status == "stopped"  # type: ignore[union-attr]
    assert started[job.id].stopped


def test_a_dead_process_fails_the_job(engine: Engine) -> None:
    clock = Clock()
    supervisor, started = make(engine, clock)
    job = new(engine, clock)
    supervisor.tick()
    started[job.id].died = True
    supervisor.tick()
    failed = jobs.get(engine, job.id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error is not None
    assert "exited early" in failed.error


def test_measurements_are_written_while_running(engine: Engine) -> None:
    clock = Clock()
    supervisor, started = make(engine, clock)
    job = new(engine, clock, duration=100)
    supervisor.tick()
    started[job.id].cpu = 3.0
    clock.now += 2
    supervisor.tick()
    assert jobs.get(engine, job.id).cpu_seconds == 3.0  # type: ignore[union-attr]


def test_shutdown_records_every_job_as_stopped(engine: Engine) -> None:
    clock = Clock()
    supervisor, started = make(engine, clock)
    ids = [new(engine, clock).id for _ in range(3)]
    supervisor.tick()
    supervisor.shutdown()
    assert all(started[i].stopped for i in ids)
    assert {jobs.get(engine, i).status for i in ids} == {"stopped"}  # type: ignore[union-attr]
