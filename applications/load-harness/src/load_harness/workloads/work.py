"""Per-request CPU work (POST /load/cpu/work), run in a process pool so it never holds a web worker's GIL.

Done in the web worker's own thread, a 50 ms burst would hold the GIL and stall every other request thread of
that worker, /health included. In a pool sized to the CPU quota, the work queues behind the quota instead of
behind the GIL, and niced workers let the web threads cut in line for the CPU.

Who starts the workers matters. They are spawned (never forked: web workers are threaded) by one long-lived
owner thread per pool, for two reasons:

- The parent-death signal fires when the *thread* that started a worker exits. Started from a request thread,
  a worker would be killed when that thread ends, and the pool would break.
- forkserver would avoid that, but every worker then holds a copy of the server's "alive" pipe, so the server
  and the workers outlive a killed web worker (measured: still running 3 s later). Spawned workers are direct
  children, so the parent-death signal and the lifeline watchdog both see the web worker die.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from load_harness.workloads import lifeline

# Between the web workers (0) and the CPU-job burners (10): request work beats background burn, health beats both.
WORK_NICE = 5
# Arithmetic between CPU-clock reads, so the burn is user time rather than clock_gettime system calls.
_SPIN_CHUNK = 32

T = TypeVar("T")


def _spin() -> int:
    x = 1
    for _ in range(_SPIN_CHUNK):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def burn_cpu_ms(cpu_ms: float) -> dict[str, float]:
    """Burn ``cpu_ms`` of this thread's CPU time; return the CPU and wall milliseconds actually spent."""
    start_wall = time.perf_counter()
    start_cpu = time.thread_time()
    deadline = start_cpu + max(0.0, cpu_ms) / 1000.0
    while time.thread_time() < deadline:
        _spin()
    cpu = time.thread_time() - start_cpu
    return {"cpu_ms": cpu * 1000.0, "wall_ms": (time.perf_counter() - start_wall) * 1000.0}


def iterations_work(iterations: int) -> dict[str, float]:
    """The original's /load/cpu/work loop, so ``result`` matches it for the same ``iterations``."""
    start_wall = time.perf_counter()
    start_cpu = time.thread_time()
    sqrt, sin = math.sqrt, math.sin  # local names: the loop is the product, keep it the same cost per run
    result = 0.0
    for i in range(iterations):
        result = (result + sqrt(i + 1) * sin(i)) % 1_000_000
    return {
        "result": round(result, 4),
        "cpu_ms": (time.thread_time() - start_cpu) * 1000.0,
        "wall_ms": (time.perf_counter() - start_wall) * 1000.0,
    }


def pool_size_for(available_cores: float) -> int:
    """One worker per core the quota allows, rounded up: 0.5 cores still needs a worker."""
    return max(1, math.ceil(available_cores - 1e-9))


def _init_worker() -> None:
    lifeline.bind_to_parent()
    # Not permitted on some platforms; the work is still correct, only less polite.
    with contextlib.suppress(OSError):
        os.nice(WORK_NICE)


def _ready() -> int:
    # Long enough that every warm-up task is submitted before the first finishes, so each gets its own worker.
    time.sleep(0.05)
    return os.getpid()


class WorkPool:
    """A process pool for request work. Thread-safe; one per web worker process."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._closed = False
        self._requests: queue.SimpleQueue[concurrent.futures.Future[ProcessPoolExecutor] | None] = queue.SimpleQueue()
        self._owner = threading.Thread(target=self._own, name="workpool-owner", daemon=True)
        self._owner.start()
        self._executor = self._new_executor()

    def _own(self) -> None:
        """The owner thread: every worker process is started here, and this thread lives as long as they do."""
        while True:
            reply = self._requests.get()
            if reply is None:
                return
            try:
                reply.set_result(self._start_executor())
            except BaseException as exc:  # handed to the caller, who raises it
                reply.set_exception(exc)

    def _new_executor(self) -> ProcessPoolExecutor:
        reply: concurrent.futures.Future[ProcessPoolExecutor] = concurrent.futures.Future()
        self._requests.put(reply)
        return reply.result()

    def _start_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(max_workers=self.size, mp_context=self._ctx, initializer=_init_worker)
        # Start every worker now, from this thread: the executor starts workers on demand in whichever thread
        # submits, so a pool that is already full never starts one from a request thread. It also spares the
        # first requests the start-up time.
        # Ready means every worker has run its initializer (lifeline, nice), which a worker proves by answering
        # `_ready`: a process that exists but is still starting is not counted. On a loaded machine one worker can
        # answer several rounds before the others are up, hence rounds until a deadline, not a fixed count.
        answered: set[int] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answered.update(f.result(timeout=60) for f in [executor.submit(_ready) for _ in range(self.size)])
            started = set(self.pids(executor))
            if len(started) >= self.size and started <= answered:
                break
        return executor

    def pids(self, executor: ProcessPoolExecutor | None = None) -> list[int]:
        """The worker processes' pids (for measuring their CPU time)."""
        processes = getattr(executor or self._executor, "_processes", None) or {}
        return sorted(processes)

    def _run(self, fn: Callable[..., T], arg: Any, timeout: float) -> T:
        for attempt in range(2):
            with self._lock:
                if self._closed:
                    raise RuntimeError("WorkPool is closed")
                executor = self._executor
            try:
                future = executor.submit(fn, arg)
                try:
                    return future.result(timeout=timeout)
                except TimeoutError:
                    future.cancel()  # drops it if still queued; a running burst finishes on its own (bounded)
                    raise
            except BrokenProcessPool:
                # A worker died (OOM kill, a stray signal) and the pool refuses all work from then on. Replace it
                # once and retry: the work is idempotent.
                if attempt == 1:
                    raise
                self._replace(executor)
        raise AssertionError("unreachable")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._closed or self._executor is not broken:
                return  # closed meanwhile, or another thread already replaced it
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def run_cpu_ms(self, cpu_ms: float, timeout: float) -> dict[str, float]:
        """Burn ``cpu_ms`` of CPU time in a worker; adds ``total_ms``, the caller's wall time including queueing."""
        start = time.perf_counter()
        result = self._run(burn_cpu_ms, cpu_ms, timeout)
        return {**result, "total_ms": (time.perf_counter() - start) * 1000.0}

    def run_iterations(self, iterations: int, timeout: float) -> dict[str, float]:
        start = time.perf_counter()
        result = self._run(iterations_work, iterations, timeout)
        return {**result, "total_ms": (time.perf_counter() - start) * 1000.0}

    def close(self) -> None:
        """Cancel queued work, wait for running bursts (bounded by the request limits), then end the owner."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)
        # Only after the workers are gone: the owner thread's exit would SIGKILL any that remain.
        self._requests.put(None)
        self._owner.join(5)
