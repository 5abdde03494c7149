"""`load-harness serve`: one process that owns the pod's supervisor and the gunicorn master.

    serve ─┬─ supervisor   (owns every job process; see supervisor/)
           └─ gunicorn ─── web workers × N (stateless)

serve imports the app once and forks both children, so the web workers start with everything loaded (cold start
is one interpreter start, not three). Both children get a parent-death signal, so `kill -9` of serve takes them
down, and the supervisor's burners with them. SIGTERM drains: /ready turns false, gunicorn finishes requests,
the supervisor stops and records every job, and serve exits within 10 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from load_harness.procname import set_process_name
from load_harness.settings import Settings
from load_harness.workloads import lifeline

log = logging.getLogger(__name__)
# SIGTERM to exit stays within 10 s: the drain pause, then what is left of 9 s for the children to stop.
SHUTDOWN_BUDGET_S = 9.0


def fork_child(name: str, target: Callable[[], object]) -> int:
    """Fork a child that dies with us (PDEATHSIG) and runs `target`, then exits with its status."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        set_process_name(f"lh-{name}")
        lifeline.set_parent_death_signal()
        if os.getppid() != parent:
            os._exit(1)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        _forget_inherited_connections()
        target()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        logging.getLogger(name).exception("%s crashed", name)
    finally:
        os._exit(code)


def _forget_inherited_connections() -> None:
    # A pooled connection must never be shared across a fork; the child opens its own.
    from load_harness.store.engine import get_engine

    get_engine().dispose(close=False)


class Server:
    def __init__(self, settings: Settings, workers: int, threads: int, reload: bool = False) -> None:
        self.settings = settings
        self.workers = workers
        self.threads = threads
        self.reload = reload
        self.runtime = Path(tempfile.mkdtemp(prefix="load-harness-"))
        self.children: dict[str, int] = {}
        self.stopping = False

    def prepare_environment(self) -> None:
        """Set before the app is imported: prometheus_client picks multiprocess mode at import time."""
        (self.runtime / "prometheus").mkdir()
        os.environ.update(
            LOAD_HARNESS_RUNTIME_DIR=str(self.runtime),
            PROMETHEUS_MULTIPROC_DIR=str(self.runtime / "prometheus"),
            LOAD_HARNESS_BIND=f"{self.settings.host}:{self.settings.port}",
            LOAD_HARNESS_WORKERS=str(self.workers),
            LOAD_HARNESS_THREADS=str(self.threads),
            POD_NAME=self.settings.pod_name,
            # Every worker must sign sessions with the same key; with fork they share it, with --reload the
            # exec'd gunicorn reads it from here.
            SECRET_KEY=self.settings.secret_key or secrets.token_hex(32),
            DATABASE_URL=self.settings.resolved_database_url,
        )

    def start_supervisor(self, started_before: float) -> None:
        from load_harness.runs import repository as run_store
        from load_harness.store import jobs as job_store
        from load_harness.store import pods as pod_store
        from load_harness.store.engine import get_engine
        from load_harness.supervisor.__main__ import run

        engine = get_engine()
        supervisor_id = uuid.uuid4().hex[:16]
        # Rows this pod left running under an earlier process are lost: their burners died with it.
        lost = job_store.mark_lost(engine, self.settings.pod_name, supervisor_id, started_before)
        interrupted = run_store.mark_interrupted(engine, self.settings.pod_name, supervisor_id)
        if lost or interrupted:
            log.warning(
                "pod %s: marked %d job(s) lost, %d run(s) interrupted", self.settings.pod_name, lost, interrupted
            )
        pod_store.register_supervisor(engine, self.settings.pod_name, supervisor_id)
        engine.dispose()
        self.children["supervisor"] = fork_child("supervisor", lambda: run(supervisor_id))

    def start_web(self) -> None:
        if self.reload:
            # Development: gunicorn re-imports code on change, which needs a fresh interpreter.
            command = [sys.executable, "-m", "gunicorn", "--config", "python:load_harness.server.gunicorn_conf"]
            command += ["--reload", "load_harness.server.wsgi:app"]
            self.children["web"] = fork_child("web", lambda: os.execv(sys.executable, command))  # noqa: S606
            return
        from load_harness.server.gunicorn_app import run_gunicorn
        from load_harness.server.wsgi import app

        self.children["web"] = fork_child("web", lambda: run_gunicorn(app))

    def run(self) -> int:
        from load_harness.store.engine import get_engine
        from load_harness.store.migrate import ensure_schema

        started = time.time()
        self.prepare_environment()
        if ensure_schema(get_engine()):
            log.info("database migrated")
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start_supervisor(started)
        self.start_web()
        log.info(
            "LoadHarness serving on http://%s:%d (pod %s, %d worker(s))",
            self.settings.host,
            self.settings.port,
            self.settings.pod_name,
            self.workers,
        )
        try:
            return self._watch()
        finally:
            self._shutdown()

    def _exited(self, name: str) -> int | None:
        pid = self.children.get(name)
        if pid is None:
            return None
        with contextlib.suppress(ChildProcessError):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del self.children[name]
                return os.waitstatus_to_exitcode(status)
        return None

    def _watch(self) -> int:
        while not self.stopping:
            code = self._exited("web")
            if code is not None:
                log.error("gunicorn exited with %s", code)
                return code or 1
            code = self._exited("supervisor")
            if code is not None and not self.stopping:
                log.error("supervisor exited with %s; starting a new one", code)
                self.start_supervisor(time.time())
            time.sleep(0.1)
        return 0

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _shutdown(self) -> None:
        (self.runtime / "draining").touch()
        if self.settings.drain_seconds:
            time.sleep(self.settings.drain_seconds)
        for pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + max(2.0, SHUTDOWN_BUDGET_S - self.settings.drain_seconds)
        while self.children and time.monotonic() < deadline:
            for name in list(self.children):
                self._exited(name)
            time.sleep(0.05)
        for pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.runtime, ignore_errors=True)
