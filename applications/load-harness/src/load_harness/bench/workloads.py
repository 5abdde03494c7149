"""Benchmarks of the workloads against what they promise, and of the CPU burner against stress-ng.

Every figure is measured by the kernel (CPU time of the process tree, PSS), never taken from what was asked for.
Each function returns a plain dict, ready for JSON.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil

from load_harness.workloads.cpu import NICE, burner_main
from load_harness.workloads.work import WorkPool, burn_cpu_ms, iterations_work

MIB = 1024 * 1024
SETTLE_S = 1.0  # excluded from the accuracy figure: the settling window
SAMPLE_S = 0.5  # window for the steadiness figures
STEADY_BAND_PP = 5.0  # a window within this of the target counts as settled
_FORK = mp.get_context("fork")  # the bench process is single-threaded; fork is what the supervisor uses too


def _cpu_seconds(pid: int) -> float:
    """CPU time of one process: nanosecond schedstat where Linux has it, else clock-tick psutil times."""
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as stat:
            return int(stat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        try:
            times = psutil.Process(pid).cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return 0.0


class _TreeClock:
    """Cumulative CPU seconds of a process and its descendants, remembering children that have exited."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._last: dict[int, float] = {}

    def read(self) -> float:
        try:
            pids = [self.root] + [child.pid for child in psutil.Process(self.root).children(recursive=True)]
        except psutil.Error:
            pids = []
        for pid in pids:
            self._last[pid] = max(self._last.get(pid, 0.0), _cpu_seconds(pid))
        return sum(self._last.values())


class _MachineClock:
    """Busy CPU seconds of the whole machine, to tell how much other load competed with the burners."""

    def read(self) -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _sample(clocks: Sequence[_TreeClock | _MachineClock], seconds: float) -> list[list[tuple[float, float]]]:
    """(elapsed, cpu seconds) every SAMPLE_S for each clock, for ``seconds`` from now."""
    start = time.monotonic()
    series: list[list[tuple[float, float]]] = [[] for _ in clocks]
    next_at = start
    while True:
        now = time.monotonic()
        for clock, points in zip(clocks, series, strict=True):
            points.append((now - start, clock.read()))
        next_at += SAMPLE_S
        if next_at - start > seconds + 1e-6:
            return series
        time.sleep(max(0.0, next_at - time.monotonic()))


def _summarise(points: list[tuple[float, float]], target_pct: float) -> dict[str, float]:
    settled = [(t, c) for t, c in points if t >= SETTLE_S - 1e-6]
    (t0, c0), (t1, c1) = settled[0], settled[-1]
    pct = 100.0 * (c1 - c0) / (t1 - t0)
    windows = [(ta, 100.0 * (cb - ca) / (tb - ta)) for (ta, ca), (tb, cb) in itertools.pairwise(points)]
    # Settled after: the start of the first window from which every later window stays in the band.
    settled_after = windows[-1][0] if windows else 0.0
    for index in range(len(windows) - 1, -1, -1):
        if abs(windows[index][1] - target_pct) > STEADY_BAND_PP:
            break
        settled_after = windows[index][0]
    steady = [pct_w for start, pct_w in windows if start >= SETTLE_S - 1e-6]
    return {
        "pct": round(pct, 2),
        "error_pp": round(pct - target_pct, 2),
        "window_stdev_pp": round(statistics.pstdev(steady), 2) if len(steady) > 1 else 0.0,
        "settled_after_s": round(settled_after, 2),
    }


_Batch = tuple[dict[int, dict[str, float]], float]


def _finish(targets: Sequence[int], series: list[list[tuple[float, float]]]) -> _Batch:
    """Per-target summaries, and the other load on the machine meanwhile (in cores), from the last series."""
    *trees, machine = series

    def rate(points: list[tuple[float, float]]) -> float:
        return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])

    other = max(0.0, rate(machine) - sum(rate(points) for points in trees))
    return {pct: _summarise(points, pct) for pct, points in zip(targets, trees, strict=True)}, other


def _run_ours(targets: Sequence[int], seconds: float) -> _Batch:
    stop = _FORK.Event()
    procs = [_FORK.Process(target=burner_main, args=(pct / 100.0, seconds + 1.0, stop), daemon=True) for pct in targets]
    for proc in procs:
        proc.start()
    try:
        series = _sample([*(_TreeClock(proc.pid or 0) for proc in procs), _MachineClock()], seconds)
    finally:
        stop.set()
        for proc in procs:
            proc.join(2.0)
    return _finish(targets, series)


def _run_stress_ng(binary: str, targets: Sequence[int], seconds: float) -> _Batch:
    # At our burners' niceness, so neither has an edge when something else wants the CPU.
    timeout = f"{int(seconds + 1)}s"
    procs = [
        subprocess.Popen(
            ["nice", "-n", str(NICE), binary, "--cpu", "1", "--cpu-load", str(pct), "--timeout", timeout, "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pct in targets
    ]
    try:
        # stress-ng's worker is a child of the stress-ng parent: the tree clock sums both.
        series = _sample([*(_TreeClock(proc.pid) for proc in procs), _MachineClock()], seconds)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
    return _finish(targets, series)


def _pairs(targets: Sequence[int]) -> list[list[int]]:
    """Batches of at most two burners with at most 1.5 cores between them, so burners never fight for a core."""
    ordered = sorted(targets)
    batches: list[list[int]] = []
    while ordered:
        high = ordered.pop()
        low = ordered.pop(0) if ordered and ordered[0] + high <= 150 else None
        batches.append([high] if low is None else [low, high])
    return batches


def cpu_accuracy(targets: Sequence[int] = (25, 50, 75, 100), seconds: float = 6) -> dict[str, Any]:
    """Our burner vs ``stress-ng --cpu 1 --cpu-load P``: CPU use of each over the settled window (after 1 s)."""
    binary = shutil.which("stress-ng") or ("/usr/bin/stress-ng" if os.path.exists("/usr/bin/stress-ng") else None)
    ours: dict[int, dict[str, float]] = {}
    theirs: dict[int, dict[str, float]] = {}
    other: list[float] = []
    for batch in _pairs(targets):
        summaries, load = _run_ours(batch, seconds)
        ours.update(summaries)
        other.append(load)
        if binary:
            summaries, load = _run_stress_ng(binary, batch, seconds)
            theirs.update(summaries)
            other.append(load)
    per_target: dict[str, dict[str, Any]] = {}
    for pct in targets:
        row: dict[str, Any] = {
            "ours_pct": ours[pct]["pct"],
            "ours_error_pp": ours[pct]["error_pp"],
            "ours_window_stdev_pp": ours[pct]["window_stdev_pp"],
            "ours_settled_after_s": ours[pct]["settled_after_s"],
        }
        if pct in theirs:
            ours_err, their_err = abs(ours[pct]["error_pp"]), abs(theirs[pct]["error_pp"])
            row.update(
                stress_ng_pct=theirs[pct]["pct"],
                stress_ng_error_pp=theirs[pct]["error_pp"],
                stress_ng_window_stdev_pp=theirs[pct]["window_stdev_pp"],
                stress_ng_settled_after_s=theirs[pct]["settled_after_s"],
                # How many times larger stress-ng's error is than ours (errors floored at 0.05 pp, tick noise).
                ratio=round(max(their_err, 0.05) / max(ours_err, 0.05), 2),
            )
        per_target[str(pct)] = row
    result: dict[str, Any] = {
        "seconds": seconds,
        "settle_excluded_s": SETTLE_S,
        "window_s": SAMPLE_S,
        "targets": per_target,
        # Other load on the machine during the busiest batch, in cores. Both tools run at nice 10 and yield to
        # it, so figures taken with more than ~0.2 cores of other load measure the machine, not the tools.
        "other_load_cores_max": round(max(other), 2),
        "notes": f"pct = CPU time of the process tree / wall time after the first second, as % of one core; "
        f"both tools at nice {NICE}; ratio = |stress-ng error| / |our error|",
    }
    if not binary:
        result["stress_ng"] = "skipped: stress-ng binary not found on PATH or at /usr/bin/stress-ng"
    return result


def _timed(fn: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def work_overhead(count: int = 300) -> dict[str, Any]:
    """Per-request cost of the pool: WorkPool.run_cpu_ms(1) vs burn_cpu_ms(1) in the calling thread."""
    direct = _timed(lambda: burn_cpu_ms(1.0), count)
    pool = WorkPool(1)
    try:
        pool.run_cpu_ms(1.0, timeout=10)  # first-call effects (imports, page faults) out of the figures
        pooled = _timed(lambda: pool.run_cpu_ms(1.0, timeout=10), count)
        iterations_pool_ms = pool.run_iterations(100_000, timeout=30)["total_ms"]
    finally:
        pool.close()
    iterations = iterations_work(100_000)
    return {
        "requests": count,
        "direct_p50_ms": round(_quantile(direct, 0.5), 3),
        "pool_p50_ms": round(_quantile(pooled, 0.5), 3),
        "pool_p99_ms": round(_quantile(pooled, 0.99), 3),
        "overhead_p50_ms": round(_quantile(pooled, 0.5) - _quantile(direct, 0.5), 3),
        "iterations_100k_direct_cpu_ms": round(iterations["cpu_ms"], 1),
        "iterations_100k_pool_total_ms": round(iterations_pool_ms, 1),
    }
