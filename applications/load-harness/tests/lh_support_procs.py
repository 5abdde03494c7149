"""Process-tree helpers for system tests: find the supervisor and its job processes under a server."""

from __future__ import annotations

import psutil
from load_harness.workloads.memory import tree_pss_bytes


def supervisor_of(serve_pid: int) -> psutil.Process:
    for child in psutil.Process(serve_pid).children():
        if child.name() == "lh-supervisor":
            return child
    raise LookupError("no supervisor under the server")


def job_processes(serve_pid: int) -> list[psutil.Process]:
    """Burners and holders: the supervisor's children."""
    return supervisor_of(serve_pid).children()


def tree_pss(pid: int) -> int:
    return tree_pss_bytes(pid)


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total
