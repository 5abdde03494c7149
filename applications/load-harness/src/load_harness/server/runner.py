"""`load-harness serve`: one process that owns the pod's supervisor and the gunicorn master.

    serve ─┬─ supervisor   (owns every job process; see supervisor/)
           └─ gunicorn ─── web workers × N (stateless)

Both children get a parent-death signal, so `kill -9` of serve takes them down, and the supervisor's burners
with them. SIGTERM drains: /ready turns false, gunicorn finishes requests, the supervisor stops and records every
job, and serve exits within 10 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType

from load_harness.settings import Settings
from load_harness.store import jobs as job_store
from load_harness.store import pods as pod_store
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade
from load_harness.workloads import lifeline

log = logging.getLogger(__name__)
# SIGTERM to exit stays within 10 s: the drain pause, then what is left of 9 s for the children to stop.
SHUTDOWN_BUDGET_S = 9.0


def _die_with_serve() -> None:
    """preexec_fn of both children: the kernel kills them when serve dies, even by SIGKILL. The flag survives
    exec, so it also covers the gunicorn master."""
    lifeline._set_pdeathsig(signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(1)


class Server:
    def __init__(self, settings: Settings, workers: int, threads: int, reload: bool = False) -> None:
        self.settings = settings
        self.workers = workers
        self.threads = threads
        self.reload = reload
        self.runtime = Path(tempfile.mkdtemp(prefix="load-harness-"))
        self.engine = make_engine(settings.resolved_database_url)
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def env(self, supervisor_id: str) -> dict[str, str]:
        env = dict(os.environ)
        (self.runtime / "prometheus").mkdir(exist_ok=True)
        env.update(
            LOAD_HARNESS_RUNTIME_DIR=str(self.runtime),
            PROMETHEUS_MULTIPROC_DIR=str(self.runtime / "prometheus"),
            LOAD_HARNESS_SUPERVISOR_ID=supervisor_id,
            LOAD_HARNESS_BIND=f"{self.settings.host}:{self.settings.port}",
            LOAD_HARNESS_WORKERS=str(self.workers),
            LOAD_HARNESS_THREADS=str(self.threads),
            POD_NAME=self.settings.pod_name,
            # Every worker must sign sessions with the same key, so a random one is chosen here, once.
            SECRET_KEY=self.settings.secret_key or secrets.token_hex(32),
        )
        if not self.settings.database_url:
            env["DATABASE_URL"] = self.settings.resolved_database_url
        return env

    def start_supervisor(self, started_before: float) -> None:
        supervisor_id = uuid.uuid4().hex[:16]
        # Rows this pod left running under an earlier process are lost: their burners died with it.
        lost = job_store.mark_lost(self.engine, self.settings.pod_name, supervisor_id, started_before)
        if lost:
            log.warning("marked %d job(s) of pod %s lost", lost, self.settings.pod_name)
        pod_store.register_supervisor(self.engine, self.settings.pod_name, supervisor_id)
        self.supervisor = subprocess.Popen(
            [sys.executable, "-m", "load_harness.supervisor"],
            env=self.env(supervisor_id),
            preexec_fn=_die_with_serve,  # serve is single-threaded, so preexec_fn is safe
        )

    def start_web(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:load_harness.server.gunicorn_conf",
        ]
        if self.reload:
            command.append("--reload")
        command.append("load_harness.server.wsgi:app")
        self.web = subprocess.Popen(command, env=self.env("web"), preexec_fn=_die_with_serve)

    def run(self) -> int:
        started = time.time()
        upgrade(self.engine)
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

    def _watch(self) -> int:
        assert self.web is not None
        while not self.stopping:
            code = self.web.poll()
            if code is not None:
                log.error("gunicorn exited with %s", code)
                return code or 1
            if self.supervisor is not None and self.supervisor.poll() is not None and not self.stopping:
                log.error("supervisor exited with %s; starting a new one", self.supervisor.returncode)
                self.start_supervisor(time.time())
            time.sleep(0.2)
        return 0

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _shutdown(self) -> None:
        (self.runtime / "draining").touch()
        if self.settings.drain_seconds:
            time.sleep(self.settings.drain_seconds)
        for child in (self.web, self.supervisor):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + max(2.0, SHUTDOWN_BUDGET_S - self.settings.drain_seconds)
        for child in (self.web, self.supervisor):
            if child is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(self.runtime, ignore_errors=True)
