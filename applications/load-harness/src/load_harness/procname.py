"""Name our processes (the kernel's `comm`, shown by ps -o comm, top and psutil), because forked children
otherwise all look like `load-harness serve`."""

from __future__ import annotations

import ctypes
import sys

PR_SET_NAME = 15


def set_process_name(name: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        # The symbols already loaded, as in workloads/lifeline.py: find_library("c") would run `ldconfig -p` in a
        # subprocess at every process start.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        return
