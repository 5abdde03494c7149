"""A duty-cycle CPU burner: hold one process at a fraction of one core, measured in its own CPU time.

Why not stress-ng's ``--cpu-load``: it paces by wall time, so a burner that gets less CPU than it asked for
(throttled by a quota, preempted by a neighbour) undershoots, then settles slowly and oscillates (stress-ng #412).

The control law here is an integrator on CPU time. ``owed`` is target × wall time elapsed minus CPU time used,
both measured from this process's clocks. When at least one slice is owed, burn exactly one slice of CPU time
(a few ms, checking the CPU clock while spinning); otherwise sleep until a slice will be owed. Because a burn
never takes more than is owed, cumulative usage never runs ahead of the target (no overshoot), and because it is
cumulative, oversleeping and preemption are paid back on the next cycles. ``owed`` is clamped to about one
period's worth of work, so a burner starved for a while resumes at its target instead of bursting at 100 % to
"catch up" for seconds (fortio #543): past debt beyond that bound is forgiven.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from load_harness.workloads import lifeline

# Burners run below the web workers, so /health and /ready answer quickly while every core burns.
NICE = 10
# Above this a burner just spins: the sleep/wake bookkeeping would cost more than the 0.1 % it leaves idle.
FULL_TARGET = 0.999
# Burn slice in CPU seconds: short enough to look smooth to a 1 s scrape and to a 100 ms CFS quota period,
# long enough that the clock reads and wake-ups cost well under 1 % of it.
SLICE_S = 0.005
# Spinning at 100 %: how often to check the wall clock's deadline and the stop callback.
FULL_CHECK_S = 0.01
# Arithmetic between CPU-clock reads, so the burn is user time rather than clock_gettime system calls.
_SPIN_CHUNK = 64


def _spin(chunk: int = _SPIN_CHUNK) -> int:
    x = 1
    for _ in range(chunk):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


class DutyCycle:
    """The burn-or-sleep controller; clocks and sleep are injected so tests drive it in simulated time."""

    def __init__(
        self,
        target: float,
        period_s: float = 0.1,
        max_debt_s: float | None = None,
        cpu_clock: Callable[[], float] = time.thread_time,
        wall_clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
        slice_s: float = SLICE_S,
    ) -> None:
        """``target`` is a fraction of one core in (0, 1]; ``max_debt_s`` defaults to one period's work."""
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target must be in (0, 1], got {target}")
        if period_s <= 0 or slice_s <= 0:
            raise ValueError("period_s and slice_s must be positive")
        self.target = target
        self.period_s = period_s
        self.slice_s = slice_s
        # At least one slice may be owed, or the controller could never decide to burn.
        debt = target * period_s if max_debt_s is None else max_debt_s
        self.max_debt_s = max(debt, slice_s)
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._last_cpu = cpu_clock()
        self._last_wall = wall_clock()
        self._owed = 0.0

    @property
    def owed_s(self) -> float:
        """CPU seconds owed at the last step (negative when ahead)."""
        return self._owed

    def _account(self) -> float:
        cpu, wall = self._cpu_clock(), self._wall_clock()
        owed = self._owed + self.target * (wall - self._last_wall) - (cpu - self._last_cpu)
        # Forgive debt beyond the bound (no catch-up burst); the lower bound only guards against clock jumps.
        self._owed = min(self.max_debt_s, max(-self.max_debt_s, owed))
        self._last_cpu, self._last_wall = cpu, wall
        return cpu

    def step(self, max_sleep_s: float | None = None) -> None:
        """Burn one slice if one is owed, else sleep until one will be (at most one period, or ``max_sleep_s``)."""
        cpu = self._account()
        if self.target >= FULL_TARGET or self._owed >= self.slice_s:
            deadline = cpu + self.slice_s
            while self._cpu_clock() < deadline:
                _spin()
            return
        pause = min((self.slice_s - self._owed) / self.target, self.period_s)
        if max_sleep_s is not None:
            pause = min(pause, max_sleep_s)
        if pause > 0:
            self._sleep(pause)


def burn(
    target: float,
    stop_at: float,
    should_stop: Callable[[], bool] = lambda: False,
    period_s: float = 0.1,
) -> float:
    """Keep this process at ``target`` of one core until ``time.monotonic() >= stop_at`` or ``should_stop()``.

    Meant for a dedicated process: it paces on the process's CPU clock, so any other busy thread in the process
    would count against the target. Returns the CPU seconds this process used meanwhile.
    """
    start_cpu = time.process_time()
    target = min(target, 1.0)
    if target <= 0.0:
        while time.monotonic() < stop_at and not should_stop():
            time.sleep(min(period_s, max(0.0, stop_at - time.monotonic())))
    elif target >= FULL_TARGET:
        while not should_stop():
            now = time.monotonic()
            if now >= stop_at:
                break
            check_at = min(stop_at, now + FULL_CHECK_S)
            while time.monotonic() < check_at:
                _spin()
    else:
        controller = DutyCycle(target, period_s=period_s, cpu_clock=time.process_time)
        while not should_stop():
            remaining = stop_at - time.monotonic()
            if remaining <= 0:
                break
            controller.step(max_sleep_s=remaining)
    return time.process_time() - start_cpu


def burner_main(target: float, duration_s: float, stop_event: Any) -> None:
    """Child-process entry: die with the parent, step aside for the web workers, then burn."""
    # The deadline counts from process start, before the bookkeeping below, so a job never overruns.
    stop_at = time.monotonic() + duration_s
    lifeline.bind_to_parent()
    # Not permitted on some platforms; burning at normal priority is still correct, just less polite.
    with contextlib.suppress(OSError):
        os.nice(NICE)
    burn(target, stop_at, should_stop=stop_event.is_set)
