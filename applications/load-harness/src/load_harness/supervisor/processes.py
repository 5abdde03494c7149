"""Job processes: start the burners or the holder for one job row, measure them, and stop them.

Burners are forked from the supervisor (single-threaded, so forking is safe) and stop on an Event. The memory
holder is exec'd (workloads/hold.py) so that it carries no copy of the supervisor's heap, and stops on SIGTERM.
Both kinds get a parent-death signal: they never outlive the supervisor."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

import psutil

from load_harness.procname import set_process_name
from load_harness.store.jobs import Job
from load_harness.workloads.cpu import burner_main
from load_harness.workloads.memory import start_holder

_CTX = mp.get_context("fork")
JOIN_SECONDS = 1.0


class Child(Protocol):
    """What the supervisor needs of a job process, whichever way it was started."""

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def terminate(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def kill(self) -> None: ...


class ExecChild:
    """A subprocess.Popen seen through multiprocessing.Process's interface."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int | None:
        return self.popen.pid

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGTERM)

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()


@dataclass
class RunningJob:
    job: Job
    processes: list[Child]
    stop_event: Any
    peak_rss_bytes: int = 0
    last_cpu_seconds: float = 0.0
    _handles: dict[int, psutil.Process] = field(default_factory=dict)

    def alive(self) -> bool:
        return any(p.is_alive() for p in self.processes)

    def failed(self) -> bool:
        """True when a process died before the job ended (an OOM kill, a crash)."""
        return any(p.exitcode not in (None, 0) for p in self.processes)

    def measure(self) -> tuple[float, int]:
        """CPU-seconds used so far and peak resident memory, from the kernel's own accounting."""
        cpu = 0.0
        rss = 0
        for proc in self.processes:
            if proc.pid is None:
                continue
            handle = self._handles.get(proc.pid)
            try:
                if handle is None:
                    handle = self._handles[proc.pid] = psutil.Process(proc.pid)
                times = handle.cpu_times()
                cpu += times.user + times.system
                rss += _peak_rss(proc.pid)
            except (psutil.Error, OSError):
                continue
        self.last_cpu_seconds = max(self.last_cpu_seconds, cpu)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        return self.last_cpu_seconds, self.peak_rss_bytes

    def stop(self) -> None:
        self.stop_event.set()
        for proc in self.processes:
            if isinstance(proc, ExecChild):
                proc.terminate()
        for proc in self.processes:
            proc.join(JOIN_SECONDS)
        for proc in self.processes:
            if proc.is_alive():
                proc.kill()
                proc.join(JOIN_SECONDS)


def _peak_rss(pid: int) -> int:
    """VmHWM: the high-water mark of resident memory, which a sampled RSS could miss."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _named(name: str, target: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        gc.disable()  # a burner allocates almost nothing; collecting would only copy shared pages
        set_process_name(name)
        target(*args)

    return run


def start(job: Job, now: float) -> RunningJob:
    stop_event = _CTX.Event()
    # Children may outlive the deadline by a second at most; the supervisor stops them at the deadline itself.
    duration = max(0.0, job.deadline_at - now) + 1.0
    if job.kind == "memory":
        holder = ExecChild(start_holder(job.memory_bytes, duration))
        return RunningJob(job=job, processes=[holder], stop_event=stop_event)
    if job.kind != "cpu":
        raise ValueError(f"unknown job kind {job.kind!r}")
    cores = int(job.params["cores"])
    per_burner = job.cpu_cores / cores
    burners: list[BaseProcess] = [
        _CTX.Process(
            target=_named("lh-burner", burner_main),
            args=(per_burner, duration, stop_event),
            name=f"lh-burner-{job.id}-{index}",
            daemon=True,
        )
        for index in range(cores)
    ]
    # Freeze the supervisor's objects across the fork, so the children share its pages untouched.
    gc.freeze()
    try:
        for proc in burners:
            proc.start()
    finally:
        gc.unfreeze()
    return RunningJob(job=job, processes=list(burners), stop_event=stop_event)
