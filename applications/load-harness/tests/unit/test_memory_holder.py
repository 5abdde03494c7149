"""The memory holder raises a process tree's PSS by what it holds, and gives it back promptly on stop."""

from __future__ import annotations

import mmap
import os
import time

import pytest
from load_harness.workloads.memory import allocate, process_pss_bytes, start_holder, tree_pss_bytes, wait_resident

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
    me = os.getpid()
    baseline = _settled_tree_pss(me)
    holder = start_holder(size, 30.0)
    try:
        report = wait_resident(holder)
        assert report["allocated_bytes"] == size
        held = tree_pss_bytes(me) - baseline
        # The holder is a bare interpreter (about 5 MB) plus exactly the mapping.
        assert held == pytest.approx(size, rel=0.05), f"tree PSS grew by {held / MIB:.1f} MiB"
        holder.terminate()
        stopped_at = time.monotonic()
        released = None
        while time.monotonic() - stopped_at < 1.0:
            holder.poll()  # reap the zombie, as the supervisor does
            if tree_pss_bytes(me) - baseline < 10 * MIB:
                released = time.monotonic() - stopped_at
                break
            time.sleep(0.01)
        assert released is not None, f"still {(tree_pss_bytes(me) - baseline) / MIB:.1f} MiB above baseline"
    finally:
        holder.kill()
        holder.wait(2.0)


def test_holder_expires_on_its_own() -> None:
    started = time.monotonic()
    holder = start_holder(4 * MIB, 0.2)
    assert wait_resident(holder)["allocated_bytes"] == 4 * MIB
    assert holder.wait(3.0) == 0
    assert time.monotonic() - started < 2.0


def test_holder_refuses_a_nonpositive_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        start_holder(0, 1.0)
