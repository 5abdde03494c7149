"""Workers die with their parent: by PDEATHSIG, by the watchdog, and when the parent was gone before they bound."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from multiprocessing.connection import Connection

import psutil
import pytest
from load_harness.workloads import lifeline

CTX = mp.get_context("fork")


def _grandchild() -> None:
    lifeline.bind_to_parent()
    time.sleep(60)


def _child(report: Connection, without_pdeathsig: bool) -> None:
    if without_pdeathsig:
        # Forked grandchildren inherit this, so only the watchdog can notice the parent's death.
        lifeline._set_pdeathsig = lambda _sig: False  # type: ignore[assignment]
    grandchild = CTX.Process(target=_grandchild, daemon=False)
    grandchild.start()
    report.send(grandchild.pid)
    time.sleep(60)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kill_parent_and_time_grandchild(without_pdeathsig: bool) -> float:
    receiver, sender = CTX.Pipe(duplex=False)
    child = CTX.Process(target=_child, args=(sender, without_pdeathsig))
    child.start()
    grandchild = 0
    try:
        assert receiver.poll(5), "child never reported its grandchild"
        grandchild = receiver.recv()
        time.sleep(0.2)  # let the grandchild reach bind_to_parent
        assert not _gone(grandchild)
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(2)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 2.0:
            if _gone(grandchild):
                return time.monotonic() - killed_at
            time.sleep(0.01)
        pytest.fail("grandchild outlived its parent by 2 s")
    finally:
        if child.is_alive():
            child.kill()
            child.join(2)
        if grandchild and not _gone(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_grandchild_dies_with_killed_parent() -> None:
    assert _kill_parent_and_time_grandchild(without_pdeathsig=False) < 0.5


def test_watchdog_catches_what_pdeathsig_misses() -> None:
    # Stands in for PDEATHSIG firing on the wrong thread's exit, or not being armed in time.
    took = _kill_parent_and_time_grandchild(without_pdeathsig=True)
    assert took < lifeline.WATCH_INTERVAL_S + 0.5


def _bind_then_exit_3(expected: int) -> None:
    lifeline.bind_to_parent(expected_parent=expected)
    os._exit(3)  # only reached when bind_to_parent thought the parent was alive


def _dead_pid() -> int:
    proc = CTX.Process(target=os._exit, args=(0,))
    proc.start()
    proc.join()
    assert proc.pid is not None
    return proc.pid


def test_exits_at_once_when_parent_died_before_binding() -> None:
    proc = CTX.Process(target=_bind_then_exit_3, args=(_dead_pid(),))
    proc.start()
    proc.join(2)
    assert proc.exitcode == 0


def test_stays_alive_when_parent_is_alive() -> None:
    proc = CTX.Process(target=_bind_then_exit_3, args=(os.getpid(),))
    proc.start()
    proc.join(2)
    assert proc.exitcode == 3


def _bind_twice(report: Connection) -> None:
    lifeline.bind_to_parent()
    lifeline.bind_to_parent()
    report.send(sum(1 for t in threading.enumerate() if t.name == "lifeline-watchdog"))


def test_one_watchdog_per_process() -> None:
    receiver, sender = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=_bind_twice, args=(sender,))
    proc.start()
    assert receiver.poll(5)
    assert receiver.recv() == 1
    proc.join(2)
