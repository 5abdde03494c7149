"""Tie a worker process's life to its parent's, so no burner, holder or pool worker outlives the pod's owner.

Two mechanisms, because each alone has a gap:

- ``PR_SET_PDEATHSIG`` makes the kernel SIGKILL us the moment the parent dies, with no polling. But it fires on
  the exit of the parent *thread* that forked us, not the parent process, and it is not set at all if the parent
  died between fork and the prctl call.
- A daemon watchdog thread polls ``os.getppid()``: when we are re-parented (to init or a subreaper), the parent
  is gone, whatever thread created us.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5

_lock = threading.Lock()
_watched_parent: int | None = None


def _set_pdeathsig(sig: int) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig) through libc; False where it is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The symbols already loaded (libc's among them), not find_library("c"): that runs `ldconfig -p` in a
        # subprocess, milliseconds in every web worker and pool process, during which no signal is set yet.
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _expected_parent() -> int | None:
    """The pid of the process that created us, when multiprocessing recorded it.

    For fork and spawn children it is the direct parent. For forkserver children it is the process that asked the
    fork server, one level up; either way, if it is gone, so is the reason for us to run.
    """
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else None


def _forget_watchdog() -> None:
    # Threads do not survive fork: a forked child has no watchdog even though it inherited the module's record.
    global _watched_parent
    _watched_parent = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_watchdog)


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent_pid:
            # os._exit, not sys.exit: a daemon thread cannot end the process otherwise, and atexit handlers of an
            # orphan (multiprocessing's, for example) may block on a parent that no longer exists.
            os._exit(0)


def bind_to_parent(expected_parent: int | None = None) -> None:
    """Die with the parent: PDEATHSIG, an immediate check for a parent that died before us, and a watchdog.

    ``expected_parent`` is the pid the caller knows created it (for children not started by multiprocessing);
    by default multiprocessing's record of the parent is used. Calling this twice starts one watchdog.
    """
    global _watched_parent
    _set_pdeathsig(signal.SIGKILL)
    # Read the parent after prctl: if it died before, getppid() already names the reaper and the watchdog would
    # keep watching the wrong process, so check the recorded creator explicitly.
    parent = os.getppid()
    expected = expected_parent if expected_parent is not None else _expected_parent()
    if expected is not None and (parent != expected and not _pid_alive(expected)):
        os._exit(0)
    if parent == 1 and expected not in (None, 1):
        os._exit(0)
    with _lock:
        if _watched_parent == parent:
            return
        _watched_parent = parent
    threading.Thread(target=_watch, args=(parent,), name="lifeline-watchdog", daemon=True).start()


def set_parent_death_signal() -> None:
    """Only the kernel half of bind_to_parent(): for a child about to exec (a preexec_fn) or a forked process
    that starts its own threads later."""
    _set_pdeathsig(signal.SIGKILL)
