"""The memory holder process: `python -S hold.py SIZE_BYTES DURATION_S`.

It is exec'd, not forked, and imports only the standard library (`-S` skips even site-packages): a fork of the
supervisor would inherit its heap and copy pages of it as soon as Python touched them (about 11 MB for a 256 MB
job, measured), while a bare interpreter adds about 5 MB of PSS. Prints one line of JSON once every page is
resident, then holds until SIGTERM or the duration passes. Exiting returns the pages to the kernel at once.
"""

from __future__ import annotations

import json
import mmap
import os
import signal
import sys
import time

PAGE_SIZE = mmap.PAGESIZE
_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux only


def allocate(size_bytes: int) -> mmap.mmap:
    """An anonymous private mapping of ``size_bytes`` with every page made resident (one write per page).

    An anonymous mmap rather than a bytearray: the allocation is exactly the requested size, outside the Python
    heap (no allocator slack), and closing it unmaps it, so the kernel gets the pages back at once."""
    if size_bytes <= 0:
        raise ValueError(f"size_bytes must be positive, got {size_bytes}")
    # MAP_POPULATE has the kernel fault every page in during the mmap call: about twice as fast as one page
    # fault per page from Python.
    block = mmap.mmap(-1, size_bytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_POPULATE)
    # Still write one byte per page: residency is certain where MAP_POPULATE is missing or best-effort, and a
    # non-zero byte keeps a deduplicating or compressing memory layer (KSM, zswap) from folding pages back.
    for offset in range(0, size_bytes, PAGE_SIZE):
        block[offset] = 1
    return block


def _name_process(name: bytes) -> None:
    """prctl(PR_SET_NAME): show as lh-holder in ps and top rather than as one more python."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)
    except (OSError, AttributeError):
        return


def main(argv: list[str]) -> int:
    size_bytes, duration_s = int(argv[1]), float(argv[2])
    _name_process(b"lh-holder")
    # Block SIGTERM so it is received by sigtimedwait below instead of killing us mid-allocation.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    started = time.perf_counter()
    block = allocate(size_bytes)
    ready = {"pid": os.getpid(), "allocated_bytes": size_bytes, "allocation_ms": (time.perf_counter() - started) * 1e3}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    signal.sigtimedwait({signal.SIGTERM}, max(0.0, duration_s))
    block.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
