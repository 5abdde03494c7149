"""Job processes: start the burners or the holder for one job row, measure them, and stop them."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

import psutil

from load_harness.procname import set_process_name
from load_harness.store.jobs import Job
from load_harness.workloads.cpu import burner_main
from load_harness.workloads.memory import holder_main

# The supervisor is single-threaded, so forking it is safe, and forked children share its pages copy-on-write:
# a memory job then adds only the memory it holds, counted once.
_CTX = mp.get_context("fork")
JOIN_SECONDS = 1.0


@dataclass
class RunningJob:
    job: Job
    processes: list[BaseProcess]
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
        set_process_name(name)
        target(*args)

    return run


def start(job: Job, now: float) -> RunningJob:
    stop_event = _CTX.Event()
    # Children may outlive the deadline by a second at most; the supervisor stops them at the deadline itself.
    duration = max(0.0, job.deadline_at - now) + 1.0
    processes: list[BaseProcess] = []
    if job.kind == "cpu":
        cores = int(job.params["cores"])
        per_burner = job.cpu_cores / cores
        for index in range(cores):
            processes.append(
                _CTX.Process(
                    target=_named("lh-burner", burner_main),
                    args=(per_burner, duration, stop_event),
                    name=f"lh-burner-{job.id}-{index}",
                    daemon=True,
                )
            )
    elif job.kind == "memory":
        processes.append(
            _CTX.Process(
                target=_named("lh-holder", holder_main),
                args=(job.memory_bytes, duration, stop_event, None),  # measured here, from VmHWM
                name=f"lh-holder-{job.id}",
                daemon=True,
            )
        )
    else:
        raise ValueError(f"unknown job kind {job.kind!r}")
    for proc in processes:
        proc.start()
    return RunningJob(job=job, processes=processes, stop_event=stop_event)
