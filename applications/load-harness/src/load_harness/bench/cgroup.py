"""A throwaway CPU-limited cgroup, so benchmarks and tests can run a server or stress-ng under a real quota, as
in a pod with `limits.cpu`. Needs root and a writable cgroup tree (v1 `cpu` controller, or v2 with `cpu` in the
root's subtree_control); `available()` says whether this machine has one."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def _v1_cpu_root() -> Path | None:
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        path = ROOT / name
        if (path / "cpu.cfs_quota_us").exists():
            return path
    return None


def _v2_root() -> Path | None:
    controls = ROOT / "cgroup.subtree_control"
    if controls.exists() and "cpu" in controls.read_text().split():
        return ROOT
    return None


def available() -> str | None:
    """None when a CPU-limited cgroup can be made here; otherwise why not."""
    if os.geteuid() != 0:
        return "needs root to create a cgroup"
    root = _v1_cpu_root() or _v2_root()
    if root is None:
        return "no cgroup v1 cpu controller and no cgroup v2 with cpu delegated at /sys/fs/cgroup"
    if not os.access(root, os.W_OK):
        return f"{root} is not writable"
    return None


@contextlib.contextmanager
def cpu_limited(cores: float) -> Iterator[Callable[[], None]]:
    """Create a cgroup limited to `cores` CPUs; yields a preexec_fn that moves a child process into it."""
    v1 = _v1_cpu_root()
    root = v1 or _v2_root()
    if root is None:
        raise RuntimeError(available() or "no CPU controller")
    group = root / f"load-harness-test-{secrets.token_hex(4)}"
    group.mkdir()
    quota = int(cores * PERIOD_US)
    if v1:
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    procs = group / "cgroup.procs"

    def enter() -> None:
        procs.write_text(str(os.getpid()))

    try:
        yield enter
    finally:
        # A cgroup can only be removed once its processes are gone; move stragglers out first.
        parent = root / "cgroup.procs"
        for _ in range(50):
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(OSError):
                        parent.write_text(pid)
                group.rmdir()
                break
            time.sleep(0.1)
