"""The memory holder raises a process tree's PSS by what it holds, and gives it back promptly on stop."""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import time

import pytest
from load_harness.workloads.memory import allocate, holder_main, process_pss_bytes, tree_pss_bytes

MIB = 1024 * 1024


def test_allocate_makes_every_page_resident() -> None:
    before = process_pss_bytes(os.getpid())
    block = allocate(32 * MIB)
    try:
        assert len(block) == 32 * MIB
        grown = process_pss_bytes(os.getpid()) - before
        assert grown == pytest.approx(32 * MIB, rel=0.05)
    finally:
        block.close()
    assert process_pss_bytes(os.getpid()) - before < 2 * MIB


def test_allocate_rejects_nonpositive() -> None:
    with pytest.raises(ValueError, match="positive"):
        allocate(0)


def test_allocate_odd_size() -> None:
    block = allocate(mmap.PAGESIZE * 3 + 1)
    assert len(block) == mmap.PAGESIZE * 3 + 1
    block.close()


def test_pss_of_missing_process_is_zero() -> None:
    assert process_pss_bytes(2**22 + 12345) == 0
    assert tree_pss_bytes(2**22 + 12345) == 0


def _settled_tree_pss(pid: int) -> int:
    # Two reads a moment apart, taking the lower: a lazily freed page or a short-lived helper can add noise.
    first = tree_pss_bytes(pid)
    time.sleep(0.05)
    return min(first, tree_pss_bytes(pid))


def test_holder_raises_tree_pss_by_size_and_releases_within_a_second() -> None:
    size = 256 * MIB
    # fork: the child shares this process's pages copy-on-write, and PSS splits them between the two, so the
    # tree grows by the held memory only (spawn would add a whole second interpreter).
    ctx = mp.get_context("fork")
    me = os.getpid()
    baseline = _settled_tree_pss(me)
    stop = ctx.Event()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=holder_main, args=(size, 30.0, stop, sender), daemon=True)
    proc.start()
    try:
        assert receiver.poll(10.0), "holder never reported"
        report = receiver.recv()
        assert report["allocated_bytes"] == size
        assert report["rss_bytes"] >= size
        assert report["peak_rss_bytes"] >= report["rss_bytes"]
        held = tree_pss_bytes(me) - baseline
        assert held == pytest.approx(size, rel=0.05), f"tree PSS grew by {held / MIB:.1f} MiB"

        stop.set()
        stopped_at = time.monotonic()
        released = None
        while time.monotonic() - stopped_at < 1.0:
            if not proc.is_alive():
                proc.join()  # reap the zombie, as the supervisor does
            if tree_pss_bytes(me) - baseline < 10 * MIB:
                released = time.monotonic() - stopped_at
                break
            time.sleep(0.01)
        assert released is not None, f"still {(tree_pss_bytes(me) - baseline) / MIB:.1f} MiB above baseline"
    finally:
        stop.set()
        proc.join(2.0)
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == 0


def test_holder_expires_on_its_own() -> None:
    ctx = mp.get_context("fork")
    value = ctx.Value("q", 0)
    proc = ctx.Process(target=holder_main, args=(4 * MIB, 0.2, ctx.Event(), value), daemon=True)
    started = time.monotonic()
    proc.start()
    proc.join(3.0)
    assert proc.exitcode == 0
    assert time.monotonic() - started < 2.0
    assert value.value >= 4 * MIB
