"""gunicorn settings and hooks. Values come from the environment that `load-harness serve` prepared."""

from __future__ import annotations

import os
from typing import Any

from load_harness.settings import get_settings
from load_harness.telemetry import tracing
from load_harness.telemetry.metrics import mark_process_dead
from load_harness.workloads import lifeline

# "gthread" stays selectable so the benchmark can measure the new worker next to it (ADR 0006).
WORKER_CLASSES = {"buffered": "load_harness.server.worker.BufferedThreadWorker", "gthread": "gthread"}
worker_class = WORKER_CLASSES[get_settings().web_worker]
# Enough threads that probes always find a free one while /load/cpu/work requests wait on the work pool.
threads = int(os.environ.get("LOAD_HARNESS_THREADS", "16"))
workers = int(os.environ.get("LOAD_HARNESS_WORKERS", "1"))
bind = os.environ.get("LOAD_HARNESS_BIND", "127.0.0.1:8080")
graceful_timeout = 5
timeout = 60
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = "warning"
proc_name = "load-harness-web"
# gunicorn 25.1+ binds a control socket at $HOME/.gunicorn/gunicorn.ctl by default: outside every writable mount
# of the read-only image (load_harness/writable.py; tests/test_writable_paths.py found it), and nothing here uses
# gunicornc to manage workers at run time.
control_socket_disable = True


def post_fork(_server: Any, worker: Any) -> None:
    # First: a worker dies with the master. Without this, after `kill -9` of serve (which takes the master with
    # it) workers noticed only at their next poll and then drained for graceful_timeout, answering requests and
    # holding the port for 5-8 s. The master forks from its main thread, so the signal follows the master.
    lifeline.set_parent_death_signal()
    if os.getppid() != worker.ppid:  # the master died between fork and prctl: no signal will come
        os._exit(1)
    # Workers fork from a master that imported the app; each opens its own database connections.
    from load_harness.procname import set_process_name
    from load_harness.store.engine import get_engine
    from load_harness.telemetry.logging import configure_logging

    set_process_name("lh-web-worker")
    configure_logging(get_settings(), component="web")
    get_engine().dispose(close=False)
    # Here, not in the master: the span exporter's thread must run in the worker (a thread does not survive fork).
    tracing.start_if_enabled(get_settings(), component="web")


def worker_exit(_server: Any, _worker: Any) -> None:
    # Spans still queued in this worker are exported before it goes (within tracing.EXIT_FLUSH_TIMEOUT_S).
    tracing.shutdown()


def child_exit(_server: Any, worker: Any) -> None:
    # Keep multiprocess metric files of dead workers from being summed as live gauges.
    mark_process_dead(worker.pid)
