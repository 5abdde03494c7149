"""Memory jobs: start the holder process (hold.py), and measure memory as PSS.

The original held 292.5 MB for a 256 MB job, still 2 s after stop; here the holder maps exactly the requested
size outside any heap, and its exit gives every page back at once. PSS (proportional set size) counts each
physical page once across the process tree, so a tree's PSS rises by what the job holds.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from load_harness.workloads import lifeline
from load_harness.workloads.hold import PAGE_SIZE, allocate

__all__ = ["PAGE_SIZE", "allocate", "process_pss_bytes", "start_holder", "tree_pss_bytes", "wait_resident"]

HOLD_SCRIPT = Path(__file__).with_name("hold.py")


def start_holder(size_bytes: int, duration_s: float) -> subprocess.Popen[bytes]:
    """Exec the holder (hold.py) with a parent-death signal; it prints one JSON line when every page is
    resident, and exits, freeing everything, on SIGTERM or after ``duration_s``."""
    if size_bytes <= 0:
        raise ValueError(f"size_bytes must be positive, got {size_bytes}")
    return subprocess.Popen(
        [sys.executable, "-S", str(HOLD_SCRIPT), str(size_bytes), str(duration_s)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=lifeline.set_parent_death_signal,
    )


def wait_resident(holder: subprocess.Popen[bytes], timeout_s: float = 30.0) -> dict[str, Any]:
    """Block until the holder reports that its memory is resident; its report as a dict."""
    assert holder.stdout is not None
    ready, _, _ = select.select([holder.stdout], [], [], timeout_s)
    line = holder.stdout.readline() if ready else b""
    if not line:
        raise RuntimeError(f"memory holder {holder.pid} did not report (exit code {holder.poll()})")
    report: dict[str, Any] = json.loads(line)
    return report


def _smaps_rollup_pss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def process_pss_bytes(pid: int) -> int:
    """PSS of one process; 0 for a process that is gone or a zombie (it holds no memory)."""
    # smaps_rollup is one short read; psutil parses the full smaps, which is slower for big processes.
    pss = _smaps_rollup_pss(pid)
    if pss is not None:
        return pss
    try:
        return int(psutil.Process(pid).memory_full_info().pss)
    except (psutil.Error, AttributeError, OSError):
        return 0


def tree_pss_bytes(pid: int) -> int:
    """PSS summed over ``pid`` and all its descendants."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return 0
    return process_pss_bytes(pid) + sum(process_pss_bytes(child.pid) for child in children)
