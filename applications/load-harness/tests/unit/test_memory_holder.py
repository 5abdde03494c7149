"""The memory holder raises a process tree's PSS by what it holds, and gives it back promptly on stop."""

from __future__ import annotations

import mmap
import os

import pytest
from lh_support_procs import own_time, sched_sample, stable_tree_pss, wait_exited_unreaped
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


def test_holder_raises_tree_pss_by_size_and_releases_within_a_second() -> None:
    size = 256 * MIB
    me = os.getpid()
    baseline = stable_tree_pss(me)
    holder = start_holder(size, 30.0)
    try:
        report = wait_resident(holder)
        assert report["allocated_bytes"] == size
        held = tree_pss_bytes(me) - baseline
        # The holder is a bare interpreter (about 5 MB) plus exactly the mapping.
        assert held == pytest.approx(size, rel=0.05), f"tree PSS grew by {held / MIB:.1f} MiB"
        before = sched_sample(holder.pid)
        with own_time() as ours:
            holder.terminate()
            assert wait_exited_unreaped(holder.pid), "the holder ignored SIGTERM"
        after = sched_sample(holder.pid)  # a zombie's accounting is still there until it is reaped
        # Exiting is the release: by the time the holder is a zombie every page is back.
        left = tree_pss_bytes(me) - baseline
        assert left < 10 * MIB, f"holder exited, but still {left / MIB:.1f} MiB above baseline"
        # Within a second of SIGTERM in the holder's own time: not counting the time it, or this test noticing
        # it, waited for a CPU.
        took = ours.wall - (after.wait_s - before.wait_s) - ours.waited
        assert took < 1.0, f"{took:.3f} s to exit ({ours}; the holder waited {after.wait_s - before.wait_s:.3f} s)"
    finally:
        holder.kill()
        holder.wait(30)


def test_holder_expires_on_its_own() -> None:
    with own_time() as ours:
        holder = start_holder(4 * MIB, 0.2)
        try:
            assert wait_resident(holder)["allocated_bytes"] == 4 * MIB
            assert wait_exited_unreaped(holder.pid), "the holder outlived its duration by 30 s"
            lived = sched_sample(holder.pid)
        finally:
            holder.kill()  # a no-op on the zombie it should be by now
            holder.wait(30)
    assert holder.returncode == 0
    # Start, allocate, hold 0.2 s and exit within 2 s of its own time (a cold interpreter start included).
    took = ours.wall - lived.wait_s - ours.waited
    assert took < 2.0, f"{took:.3f} s ({ours}; the holder waited {lived.wait_s:.3f} s for a CPU)"


def test_holder_refuses_a_nonpositive_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        start_holder(0, 1.0)
