"""Name our processes (the kernel's `comm`, shown by ps -o comm, top and psutil), because forked children
otherwise all look like `load-harness serve`."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_NAME = 15


def set_process_name(name: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        return
