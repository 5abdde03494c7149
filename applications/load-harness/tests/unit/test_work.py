"""Per-request work: exact CPU time, the original's result, and a pool that leaves the caller responsive."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

import psutil
import pytest
from lh_support import wait_for
from lh_support_procs import own_time, sched_sample
from load_harness.workloads.work import WORK_NICE, WorkPool, burn_cpu_ms, iterations_work, pool_size_for


def _original(iterations: int) -> float:
    result = 0.0
    for i in range(iterations):
        result += math.sqrt(i + 1) * math.sin(i)
        result = result % 1_000_000
    return round(result, 4)


def _machine_busy_s() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkPool]:
    work_pool = WorkPool(pool_size_for(2.0))
    yield work_pool
    work_pool.close()


@pytest.mark.parametrize(("cores", "size"), [(0.1, 1), (0.5, 1), (1.0, 1), (1.5, 2), (2.0, 2), (3.2, 4)])
def test_pool_size_for(cores: float, size: int) -> None:
    assert pool_size_for(cores) == size


@pytest.mark.parametrize("cpu_ms", [1.0, 5.0, 20.0])
def test_burn_cpu_ms_is_exact(cpu_ms: float) -> None:
    result = burn_cpu_ms(cpu_ms)
    assert result["cpu_ms"] == pytest.approx(cpu_ms, abs=max(0.1 * cpu_ms, 0.5))
    assert result["wall_ms"] >= result["cpu_ms"] * 0.9


@pytest.mark.parametrize("iterations", [1000, 12345])
def test_iterations_work_matches_original(iterations: int) -> None:
    result = iterations_work(iterations)
    assert result["result"] == _original(iterations)
    assert result["cpu_ms"] > 0


def test_pool_starts_niced_workers(pool: WorkPool) -> None:
    pids = pool.pids()
    assert len(pids) == 2
    for pid in pids:
        assert psutil.Process(pid).nice() == os.nice(0) + WORK_NICE


def test_pool_cpu_ms_is_accurate_by_kernel_accounting(pool: WorkPool) -> None:
    handles = [psutil.Process(pid) for pid in pool.pids()]
    before = sum(sum(h.cpu_times()[:2]) for h in handles)
    results = [pool.run_cpu_ms(40.0, timeout=60) for _ in range(10)]
    after = sum(sum(h.cpu_times()[:2]) for h in handles)
    for result in results:
        assert result["cpu_ms"] == pytest.approx(40.0, abs=2.0)
        assert result["total_ms"] >= result["wall_ms"]
    # The kernel agrees (clock-tick resolution: 10 ms per worker at each end).
    assert (after - before) * 1000 == pytest.approx(400.0, abs=40.0)


def test_pool_iterations_match_direct(pool: WorkPool) -> None:
    assert pool.run_iterations(5000, timeout=60)["result"] == iterations_work(5000)["result"]


def _probe_lateness_p95(count: int) -> float:
    """p95 lateness of a probe-sized piece of work: wake from a 5 ms sleep, then run a tiny loop.

    Time this thread spent waiting for a CPU is not counted: that is the kernel sharing a busy machine (with the
    pool, or with anyone else), which is not what this measures. Waiting for anything else, above all for the GIL
    if the pool's work ran in this process, is counted (measured: 35 ms p95 with the work in 4 threads here,
    0.15 ms with the pool)."""
    lateness_ms: list[float] = []
    for _ in range(count):
        with own_time() as took:
            time.sleep(0.005)
            sum(range(2000))
        lateness_ms.append(took.seconds * 1000 - 5.0)
    return statistics.quantiles(lateness_ms, n=20)[-1]


def _saturated_run(pool: WorkPool) -> tuple[float, float, float, float]:
    """p95 lateness quiet and while 4 clients saturate the pool; the pool's demand for CPU and the machine's
    busy cores meanwhile."""
    baseline_p95 = _probe_lateness_p95(100)
    stop = threading.Event()

    def request_loop() -> None:
        while not stop.is_set():
            pool.run_cpu_ms(30.0, timeout=60)

    # Twice as many concurrent requests as workers: every worker always has work, and requests queue.
    clients = [threading.Thread(target=request_loop, daemon=True) for _ in range(4)]
    pids = pool.pids()
    idle = [sched_sample(pid).cpu_s for pid in pids]
    for client in clients:
        client.start()
    try:
        # Measure once every worker has had work (a burst each), rather than after a guessed delay.
        assert wait_for(lambda: all(sched_sample(pid).cpu_s - cpu > 0.03 for pid, cpu in zip(pids, idle, strict=True)))
        before, machine_before = [sched_sample(pid) for pid in pids], _machine_busy_s()
        started = time.monotonic()
        saturated_p95 = _probe_lateness_p95(200)
        elapsed = time.monotonic() - started
        after, machine_after = [sched_sample(pid) for pid in pids], _machine_busy_s()
    finally:
        stop.set()
        for client in clients:
            client.join(60)
    # Demand: on a CPU or waiting for one. A saturated pool wants a core per worker, however many it gets.
    demand = sum(a.cpu_s - b.cpu_s + a.wait_s - b.wait_s for a, b in zip(after, before, strict=True)) / elapsed
    return baseline_p95, saturated_p95, demand, (machine_after - machine_before) / elapsed


def test_caller_stays_responsive_while_pool_is_saturated(pool: WorkPool) -> None:
    for _attempt in range(2):  # one retry: other load on a shared machine can start between the two phases
        baseline_p95, saturated_p95, demand, machine_cores = _saturated_run(pool)
        limit = max(5.0, 1.5 * baseline_p95 + 1.0)
        if saturated_p95 < limit:
            break
    # Saturated: every core was busy (other load on a shared machine counts too) and the pool always had work.
    assert machine_cores > 0.85 * psutil.cpu_count(), f"machine used {machine_cores:.2f} cores: not saturated"
    assert demand > 0.8 * pool.size, f"the pool wanted only {demand:.2f} cores: not saturated"
    assert saturated_p95 < limit, f"p95 lateness {saturated_p95:.2f} ms saturated, {baseline_p95:.2f} ms quiet"


def test_timeout_raises(pool: WorkPool) -> None:
    with pytest.raises(TimeoutError):
        pool.run_cpu_ms(300.0, timeout=0.05)


def test_pool_recovers_from_a_killed_worker() -> None:
    work_pool = WorkPool(1)
    try:
        (victim,) = work_pool.pids()
        os.kill(victim, signal.SIGKILL)
        # Dead before the next request, whether or not the executor has noticed yet: either way it must recover.
        assert wait_for(lambda: not _alive(victim))
        result = work_pool.run_cpu_ms(2.0, timeout=60)
        assert result["cpu_ms"] == pytest.approx(2.0, abs=1.0)
        assert work_pool.pids() != [victim]
    finally:
        work_pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        work_pool.run_cpu_ms(1.0, timeout=1)


def _pool_owner_process(report: Connection) -> None:
    holder: list[WorkPool] = []
    # Created from a thread that ends at once, like a request thread: the workers must not die with it.
    creator = threading.Thread(target=lambda: holder.append(WorkPool(2)))
    creator.start()
    creator.join()
    created = holder[0].pids()
    # The parent-death signal fires when the kernel thread exits, which can be a moment after join() returns.
    assert wait_for(lambda: not os.path.exists(f"/proc/self/task/{creator.native_id}"))
    result = holder[0].run_cpu_ms(5.0, timeout=60)
    report.send((created, holder[0].pids(), result["cpu_ms"]))
    time.sleep(60)


def test_workers_outlive_creating_thread_and_die_with_the_process() -> None:
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    owner = ctx.Process(target=_pool_owner_process, args=(sender,))
    owner.start()
    pids: list[int] = []
    try:
        assert receiver.poll(120), "pool never answered"
        created, pids, cpu_ms = receiver.recv()
        assert len(pids) == 2
        assert pids == created, "workers were replaced: they died with the thread that created the pool"
        assert cpu_ms == pytest.approx(5.0, abs=1.0)
        os.kill(owner.pid or 0, signal.SIGKILL)
        owner.join(30)
        assert wait_for(lambda: not any(_alive(pid) for pid in pids)), "pool workers outlived their process by 30 s"
    finally:
        if owner.is_alive():
            owner.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_rejects_empty_pool() -> None:
    with pytest.raises(ValueError, match="size"):
        WorkPool(0)
