"""The duty-cycle controller in simulated time, and real burner processes measured by the kernel."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable

import psutil
import pytest
from load_harness.workloads.cpu import NICE, DutyCycle, burn, burner_main

SIM_TICK = 0.0002  # simulated wall seconds per CPU-clock read while spinning


class FakeMachine:
    """A simulated core: reading the CPU clock while spinning advances time; sleeping advances wall time only.

    ``share(wall)`` is the fraction of wall time the burner gets while runnable (1 = a free core, 0 = starved).
    """

    def __init__(self, share: Callable[[float], float] = lambda _: 1.0, oversleep_s: float = 0.0) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.share = share
        self.oversleep_s = oversleep_s
        self.trace: list[tuple[float, float]] = []

    def cpu_clock(self) -> float:
        self.cpu += SIM_TICK * self.share(self.wall)
        self.wall += SIM_TICK
        return self.cpu

    def wall_clock(self) -> float:
        return self.wall

    def sleep(self, seconds: float) -> None:
        self.wall += seconds + self.oversleep_s

    def controller(self, target: float, **kwargs: float) -> DutyCycle:
        return DutyCycle(target, cpu_clock=self.cpu_clock, wall_clock=self.wall_clock, sleep=self.sleep, **kwargs)

    def run(self, controller: DutyCycle, until: float) -> None:
        while self.wall < until:
            controller.step()
            self.trace.append((self.wall, self.cpu))

    def cpu_at(self, wall: float) -> float:
        """CPU time used by ``wall`` (linear between trace points)."""
        prev_w, prev_c = 0.0, 0.0
        for w, c in self.trace:
            if w >= wall:
                return prev_c + (c - prev_c) * (wall - prev_w) / (w - prev_w) if w > prev_w else c
            prev_w, prev_c = w, c
        return prev_c

    def usage(self, start: float, end: float) -> float:
        return (self.cpu_at(end) - self.cpu_at(start)) / (end - start)


@pytest.mark.parametrize("target", [0.05, 0.25, 0.5, 0.75, 0.9])
def test_converges_and_holds_in_every_window(target: float) -> None:
    machine = FakeMachine()
    machine.run(machine.controller(target), until=5.0)
    # Settled from the first period, and steady in every 0.5 s window after it.
    for start in (0.2, 1.0, 2.0, 3.0, 4.0):
        assert machine.usage(start, start + 0.5) == pytest.approx(target, abs=0.01)
    assert machine.usage(0.0, 5.0) == pytest.approx(target, abs=0.002)


@pytest.mark.parametrize("target", [0.1, 0.5, 0.9])
def test_never_runs_ahead_of_target(target: float) -> None:
    machine = FakeMachine()
    machine.run(machine.controller(target), until=3.0)
    for wall, cpu in machine.trace:
        # One clock read of spin is the controller's granularity.
        assert cpu <= target * wall + 2 * SIM_TICK


def test_oversleeping_is_paid_back() -> None:
    # Coarse timers: every sleep lasts 2 ms longer than asked. The integrator makes up for it.
    machine = FakeMachine(oversleep_s=0.002)
    machine.run(machine.controller(0.5), until=5.0)
    assert machine.usage(1.0, 5.0) == pytest.approx(0.5, abs=0.005)


def test_holds_target_when_sharing_a_core() -> None:
    # Runnable but given only 60 % of a core: slices take longer in wall time, the average still holds.
    machine = FakeMachine(share=lambda _: 0.6)
    machine.run(machine.controller(0.4), until=5.0)
    assert machine.usage(1.0, 5.0) == pytest.approx(0.4, abs=0.005)


def _starved_between(start: float, end: float) -> Callable[[float], float]:
    return lambda wall: 0.0 if start <= wall < end else 1.0


def test_catch_up_after_starvation_is_bounded() -> None:
    target, period = 0.5, 0.1
    machine = FakeMachine(share=_starved_between(1.0, 3.0))
    controller = machine.controller(target, period_s=period)
    machine.run(controller, until=6.0)
    # Excess over the target after the starvation ends is at most the debt bound (one period's work) + a slice.
    excess = machine.cpu_at(4.0) - machine.cpu_at(3.0) - target * 1.0
    assert excess <= controller.max_debt_s + controller.slice_s + 1e-3
    assert controller.max_debt_s == pytest.approx(target * period)
    # ... and it is back at the target within a second, not paying back the 1 s of CPU it missed.
    assert machine.usage(4.0, 6.0) == pytest.approx(target, abs=0.01)


def test_unbounded_debt_would_burst() -> None:
    # The contrast that justifies the bound: with unlimited debt the burner runs flat out after starvation.
    machine = FakeMachine(share=_starved_between(1.0, 3.0))
    machine.run(machine.controller(0.5, max_debt_s=math.inf), until=4.0)
    assert machine.usage(3.0, 4.0) > 0.95


def test_full_target_always_burns() -> None:
    machine = FakeMachine()
    machine.run(machine.controller(1.0), until=1.0)
    assert machine.usage(0.0, 1.0) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01])
def test_rejects_targets_outside_one_core(target: float) -> None:
    with pytest.raises(ValueError, match="target"):
        DutyCycle(target)


def test_step_respects_max_sleep() -> None:
    machine = FakeMachine()
    controller = machine.controller(0.01)
    before = machine.wall
    controller.step(max_sleep_s=0.003)
    assert machine.wall - before < 0.004


def test_burn_stops_at_deadline_and_reports_cpu() -> None:
    start = time.monotonic()
    used = burn(0.5, stop_at=start + 0.4)
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 0.5
    assert used == pytest.approx(0.2, abs=0.04)


def test_burn_stops_when_asked() -> None:
    start = time.monotonic()
    burn(1.0, stop_at=start + 10, should_stop=lambda: time.monotonic() - start > 0.1)
    assert time.monotonic() - start < 0.2


def test_burner_main_is_niced_and_stops_on_event() -> None:
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    proc = ctx.Process(target=burner_main, args=(0.3, 30.0, stop), daemon=True)
    proc.start()
    try:
        time.sleep(0.3)
        assert psutil.Process(proc.pid).nice() == os.nice(0) + NICE
        stop.set()
        proc.join(1.0)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()


# --- real processes ---------------------------------------------------------------------------------------------

RUN_S = 4.2
WINDOW = (1.0, 4.0)  # measure after the first second, as the spec for settling asks
TOLERANCE_PP = 2.0


def _run_delay_s(pid: int) -> float:
    """Time the process spent runnable but waiting for a CPU (schedstat's second field)."""
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as stat:
        return int(stat.read().split()[1]) / 1e9


def _measure_batch(targets: tuple[float, ...]) -> dict[float, tuple[float, float]]:
    """Run one burner per target in parallel; return (CPU %, % of time waiting for a CPU) per target."""
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    procs = [ctx.Process(target=burner_main, args=(t, RUN_S, stop), daemon=True) for t in targets]
    for proc in procs:
        proc.start()
    handles = [psutil.Process(proc.pid) for proc in procs]
    start = time.monotonic()
    try:
        time.sleep(WINDOW[0])
        t0 = time.monotonic()
        cpu0 = [sum(h.cpu_times()[:2]) for h in handles]
        wait0 = [_run_delay_s(h.pid) for h in handles]
        time.sleep(WINDOW[1] - (time.monotonic() - start))
        t1 = time.monotonic()
        cpu1 = [sum(h.cpu_times()[:2]) for h in handles]
        wait1 = [_run_delay_s(h.pid) for h in handles]
    finally:
        stop.set()
        for proc in procs:
            proc.join(2.0)
    wall = t1 - t0
    return {
        t: (100 * (c1 - c0) / wall, 100 * (w1 - w0) / wall)
        for t, c0, c1, w0, w1 in zip(targets, cpu0, cpu1, wait0, wait1, strict=True)
    }


# A burner alone on a core still waits ~1 % of the time (wake-up latency); far more means something else had
# the CPU it was owed, which no controller can make up for at nice 10.
CONTENDED_WAIT_PCT = 3.0


@pytest.mark.slow
def test_real_burners_hold_target_within_two_points() -> None:
    # Two batches of 1.25 cores each on a 2-core machine, so the burners never compete with each other.
    measured: dict[float, tuple[float, float]] = {}
    for batch in ((0.25, 1.0), (0.5, 0.75)):
        for _attempt in range(2):  # one retry when other load on a shared machine explains a miss
            result = _measure_batch(batch)
            misses = [t for t in batch if abs(result[t][0] - 100 * t) > TOLERANCE_PP]
            if not any(result[t][1] > CONTENDED_WAIT_PCT for t in misses):
                break
        measured.update(result)
    misses = {t: m for t, m in measured.items() if abs(m[0] - 100 * t) > TOLERANCE_PP}
    report = {t: f"{cpu:.2f}% cpu, {wait:.1f}% waiting" for t, (cpu, wait) in measured.items()}
    # CI runs the suite alone on its machine, so there a starved burner is a failure, never a skip.
    if misses and all(wait > CONTENDED_WAIT_PCT for _, wait in misses.values()) and not os.environ.get("CI"):
        pytest.skip(f"burners starved by other load on the machine: {report}")
    assert not misses, report
