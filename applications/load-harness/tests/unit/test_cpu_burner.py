"""The duty-cycle controller in simulated time, and real burner processes measured by the kernel's scheduler
accounting: CPU time against the time each had a CPU available, so other load on the machine is no excuse and
no cause of failure."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable

import psutil
import pytest
from lh_support import wait_for
from lh_support_procs import assert_duty_cycles, own_time, sched_sample
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
    # Run in this process, at whatever share of a CPU the machine gives it: the checks are on what burn() controls.
    before = sched_sample(os.getpid())
    with own_time() as took:
        start = time.monotonic()
        used = burn(0.5, stop_at=start + 0.4)
        elapsed = time.monotonic() - start
    after = sched_sample(os.getpid())
    assert elapsed >= 0.4  # never stops early
    # ... and stops within one sleep or slice of the deadline, not counting time the machine kept it off the CPU.
    assert took.seconds < 0.5, took
    # It reports the CPU time it used (process CPU clock; the kernel's per-thread counts agree to the ns).
    assert used == pytest.approx(after.cpu_s - before.cpu_s, abs=0.005)
    # Never ahead of the target, and behind it only by what it was kept off the CPU (the integrator's guarantee).
    assert used <= 0.5 * elapsed + 0.04
    assert used >= 0.5 * (elapsed - took.waited) - 0.04, f"used {used:.3f} s, {took}"


def test_burn_stops_when_asked() -> None:
    with own_time() as took:
        start = time.monotonic()
        burn(1.0, stop_at=start + 10, should_stop=lambda: time.monotonic() - start > 0.1)
    assert took.wall >= 0.1
    # Checks every 10 ms of wall time: stops at the first check it gets a CPU for after being asked.
    assert took.seconds < 0.2, took


def test_burner_main_is_niced_and_stops_on_event() -> None:
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    proc = ctx.Process(target=burner_main, args=(0.3, 30.0, stop), daemon=True)
    proc.start()
    try:
        handle = psutil.Process(proc.pid)
        expected = os.nice(0) + NICE
        assert wait_for(lambda: handle.nice() == expected, timeout=30), f"nice {handle.nice()}, not {expected}"
        stop.set()
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()


# --- real processes ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_burners_hold_target_within_two_points() -> None:
    """Real burner processes, measured by the kernel's scheduler accounting (see lh_support_procs.duty_cycle).

    Two batches of 1.25 cores each, so on a 2-core machine the burners never compete with each other; they run at
    real-time priority where permitted, so neighbours on a shared machine cannot starve them either."""
    ctx = mp.get_context("fork")
    for batch in ((0.25, 1.0), (0.5, 0.75)):
        stop = ctx.Event()
        procs = [ctx.Process(target=burner_main, args=(t, 60.0, stop), daemon=True) for t in batch]
        for proc in procs:
            proc.start()
        try:
            assert_duty_cycles({proc.pid or 0: target for proc, target in zip(procs, batch, strict=True)})
        finally:
            stop.set()
            for proc in procs:
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
