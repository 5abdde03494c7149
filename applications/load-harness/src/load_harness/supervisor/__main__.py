"""The supervisor process's main loop. `load-harness serve` forks it (one per pod); `python -m
load_harness.supervisor` runs it stand-alone with LOAD_HARNESS_SUPERVISOR_ID set."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

from load_harness.settings import get_settings
from load_harness.store.engine import get_engine
from load_harness.supervisor.core import Supervisor
from load_harness.telemetry.logging import configure_logging
from load_harness.wakeup import WakeupListener, socket_path


def run(supervisor_id: str) -> None:
    settings = get_settings()
    configure_logging(settings, component="supervisor")
    stopping = threading.Event()

    def _on_term(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    supervisor = Supervisor(get_engine(), settings.pod_name, supervisor_id)
    listener = WakeupListener(socket_path())
    try:
        while not stopping.is_set():
            started = time.monotonic()
            supervisor.tick()
            remaining = settings.supervisor_poll_seconds - (time.monotonic() - started)
            if remaining > 0 and not stopping.is_set():
                listener.wait(remaining)
    finally:
        supervisor.shutdown()
        listener.close()


if __name__ == "__main__":
    from load_harness.workloads.lifeline import bind_to_parent

    bind_to_parent()
    run(os.environ["LOAD_HARNESS_SUPERVISOR_ID"])
