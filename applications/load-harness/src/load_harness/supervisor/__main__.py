"""Entry point of the supervisor process, started by `load-harness serve` (one per pod)."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

from load_harness.settings import get_settings
from load_harness.store.engine import get_engine
from load_harness.supervisor.core import Supervisor
from load_harness.supervisor.wakeup import WakeupListener, socket_path
from load_harness.telemetry.logging import configure_logging
from load_harness.workloads.lifeline import bind_to_parent


def main() -> None:
    bind_to_parent()
    settings = get_settings()
    configure_logging(settings, component="supervisor")
    stopping = threading.Event()

    def _on_term(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    supervisor = Supervisor(get_engine(), settings.pod_name, os.environ["LOAD_HARNESS_SUPERVISOR_ID"])
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
    main()
