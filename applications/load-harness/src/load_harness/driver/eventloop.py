"""The event loop the driver runs on: uvloop where it is installed (a Linux dependency), else asyncio's own.

uvloop (libuv, in Cython) takes about half the loop's cost out of each request: its transports read and write
without the selector's Python layers. The driver behaves the same on both; only throughput per core differs
(docs/driver.md, ADR 0007).

`LOAD_HARNESS_EVENT_LOOP` picks one: `uvloop` (an error if it is not installed), `asyncio` (the standard loop, as on
platforms without uvloop), or unset / `auto` (uvloop when importable). The driver benchmark uses it to measure the
fallback next to the default.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

ENV = "LOAD_HARNESS_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@functools.cache
def _uvloop_factory() -> LoopFactory | None:
    try:
        import uvloop
    except ImportError:
        return None

    uv_time = uvloop.Loop.time  # libuv's own clock, in seconds

    class Loop(uvloop.Loop):
        # uvloop's time() is libuv's clock: whole milliseconds, cached once per loop iteration. The runner and the
        # client time every request with loop.time(), and service times here are a tenth of a millisecond, so use
        # the clock asyncio's own loop uses (monotonic, full resolution; libuv's clock counts from the same base).
        # Timers still work: call_at converts through time() and call_later is relative; both fire at libuv's
        # millisecond granularity, which the runner's early wake-up (runner.EARLY_S) already allows for.
        time = staticmethod(time.monotonic)

        def call_later(
            self,
            delay: float,
            callback: Callable[[*Ts], object],
            *args: *Ts,
            context: contextvars.Context | None = None,
        ) -> asyncio.TimerHandle:
            # uvloop rounds a delay to the nearest millisecond, so a timer due in under 0.5 ms runs at once: the
            # open-loop pacer, sleeping until a few tens of microseconds before its next send, would spin at 100 %
            # of a core at 20,000 req/s. And libuv counts the delay from its cached clock, which lags (truncation,
            # a stall since the loop last read it). Add the lag and round up: like asyncio's, a sleep never ends
            # early.
            if delay > 0:
                lag = time.monotonic() - uv_time(self)
                delay = math.ceil((delay + max(0.0, lag)) * 1000) / 1000
            handle: asyncio.TimerHandle = super().call_later(delay, callback, *args, context=context)
            return handle

    return Loop


def loop_factory(choice: str | None = None) -> LoopFactory | None:
    """uvloop's loop constructor, or None for asyncio's loop, for `choice` (default: LOAD_HARNESS_EVENT_LOOP)."""
    choice = (os.environ.get(ENV, "") if choice is None else choice).strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV} must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "asyncio":
        return None
    factory = _uvloop_factory()
    if factory is None and choice == "uvloop":
        raise RuntimeError(f"{ENV}=uvloop, but uvloop is not installed")
    return factory  # None without uvloop (not Linux): the standard loop does the same work, more slowly


def loop_name(choice: str | None = None) -> str:
    """The loop `run` would use for `choice` (default: LOAD_HARNESS_EVENT_LOOP), "uvloop" or "asyncio"."""
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the chosen loop: the same signal handling, task cancellation and shutdown."""
    try:
        factory = loop_factory()
    except (ValueError, RuntimeError):
        main.close()  # never started: close it, or Python warns that it was never awaited
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
