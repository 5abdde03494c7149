"""Workers die with their parent: by PDEATHSIG, by the watchdog, and when the parent was gone before they bound."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from multiprocessing.connection import Connection

import psutil
from lh_support_procs import adopting_orphans, exit_statuses
from load_harness.workloads import lifeline

CTX = mp.get_context("fork")


def _grandchild(report: Connection) -> None:
    lifeline.bind_to_parent()
    report.send(("bound", os.getpid()))
    time.sleep(60)


def _child(report: Connection, without_pdeathsig: bool) -> None:
    if without_pdeathsig:
        # Forked grandchildren inherit this, so only the watchdog can notice the parent's death.
        lifeline._set_pdeathsig = lambda _sig: False  # type: ignore[assignment]
    grandchild = CTX.Process(target=_grandchild, args=(report,), daemon=False)
    grandchild.start()
    time.sleep(60)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kill_parent_and_reap_grandchild(without_pdeathsig: bool) -> int | None:
    """SIGKILL a child whose own child is bound to it; the grandchild's exit code, read by adopting it.

    Which mechanism ended the grandchild is in that code: the parent-death signal is SIGKILL (-9), sent by the
    kernel while the parent exits, whereas the lifeline watchdog notices the new parent at its next poll and exits
    with 0. That is exact on any machine, where a stopwatch would measure how busy the machine was."""
    receiver, sender = CTX.Pipe(duplex=False)
    grandchild = 0
    with adopting_orphans():
        child = CTX.Process(target=_child, args=(sender, without_pdeathsig))
        child.start()
        try:
            assert receiver.poll(30), "the grandchild never reported that it was bound to its parent"
            _bound, grandchild = receiver.recv()
            assert not _gone(grandchild)
            os.kill(child.pid or 0, signal.SIGKILL)
            child.join(30)
            return exit_statuses([grandchild], timeout=30)[grandchild]
        finally:
            if child.is_alive():
                child.kill()
                child.join(30)
            if grandchild and not _gone(grandchild):
                os.kill(grandchild, signal.SIGKILL)
                exit_statuses([grandchild], timeout=30)


def test_grandchild_dies_with_killed_parent() -> None:
    assert _kill_parent_and_reap_grandchild(without_pdeathsig=False) == -signal.SIGKILL


def test_watchdog_catches_what_pdeathsig_misses() -> None:
    # Stands in for PDEATHSIG firing on the wrong thread's exit, or not being armed in time.
    assert _kill_parent_and_reap_grandchild(without_pdeathsig=True) == 0


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
    proc.join(30)
    assert proc.exitcode == 0


def test_stays_alive_when_parent_is_alive() -> None:
    proc = CTX.Process(target=_bind_then_exit_3, args=(os.getpid(),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 3


def _bind_twice(report: Connection) -> None:
    lifeline.bind_to_parent()
    lifeline.bind_to_parent()
    report.send(sum(1 for t in threading.enumerate() if t.name == "lifeline-watchdog"))


def test_one_watchdog_per_process() -> None:
    receiver, sender = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=_bind_twice, args=(sender,))
    proc.start()
    assert receiver.poll(30)
    assert receiver.recv() == 1
    proc.join(30)
