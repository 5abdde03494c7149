"""Test support: real LoadHarness servers started through the console script, on 127.0.0.1 and a free port."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
from flask import Flask
from load_harness.app import create_app
from load_harness.server.launch import LaunchedServer, launch
from load_harness.settings import Settings
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade

# Cold start is well under a second on a quiet machine; this only bounds how long a broken start hangs a test.
READY_TIMEOUT_S = 60


# How many callers the race tests hold at a barrier before letting them all at the store at once.
RACERS = 8


@dataclass
class RunningServer(LaunchedServer):
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.post(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def start_server(
    tmp_path: Path,
    pod: str = "pod-a",
    workers: int = 1,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
    preexec: Callable[[], None] | None = None,
) -> RunningServer:
    launched = launch(
        tmp_path, pod=pod, workers=workers, database_url=database_url, extra_env=extra_env, preexec=preexec
    )
    server = RunningServer(launched.url, launched.proc, launched.env, launched.log_path)
    if wait:
        server.wait_ready(timeout=READY_TIMEOUT_S)
    return server


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.05) -> bool:
    """Poll until ``predicate()`` is true; False at the deadline. The deadline is generous on purpose: it only
    bounds how long a broken test hangs, and a shared CI machine can stall any process for seconds. Checks on
    how fast something happened belong in the assertions, measured in what the code controls."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except (LookupError, requests.RequestException, psutil.Error, FileNotFoundError, ProcessLookupError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    """An app on a migrated SQLite file under `tmp_path`, with Settings overrides (no supervisor process)."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(make_engine(url))
    options: dict[str, Any] = {"database_url": url, "pod_name": "test-pod", "environment": "local", **overrides}
    app = create_app(Settings(**options))
    app.config["TESTING"] = True
    return app


def seed_run(
    app: Flask,
    latencies_us: Sequence[int],
    *,
    run_id: str | None = None,
    name: str = "",
    errors: int = 0,
    pods: Sequence[str] = ("test-pod",),
    seconds: int = 5,
    thresholds: Sequence[str] = (),
    finished: bool = True,
) -> str:
    """A driver run in the app's store whose one shard answered a response per latency (µs); returns the run id.

    The state is built from the driver's own records, as a shard builds it: a Recorder fed each response (spread
    evenly over `seconds` one-second points of the series, sent to `pods` in turn, `errors` of them answering 500),
    wrapped in a DriverState and written through the store's shard calls. Without `run_id`, a new open-loop run
    (started through the API, 20 req/s for `seconds`) is created first; with it, the state goes to that run (one
    the form started, say) and replaces what its shard reported before: a state is cumulative. `finished` ends the
    shard and freezes the run's summary, as the last shard to finish does (a run asked to stop ends `stopped`)."""
    import math

    from load_harness.context import KEY
    from load_harness.driver.plan import Plan, constant_plan
    from load_harness.driver.recorder import Recorder
    from load_harness.driver.state import Connections, DriverState, ShardSet, StopReason
    from load_harness.runs import repository as run_store
    from load_harness.runs.model import RunOptions, RunOrigin

    engine = app.extensions[KEY].engine
    if run_id is None:
        plan = constant_plan("http://127.0.0.1:8000/load/cpu/work", "open", 20.0, float(seconds))
        run_id = run_store.create(
            engine,
            target=plan.url,
            plan=plan.to_record(),
            options=RunOptions(thresholds=list(thresholds), name=name, placement="local"),
            shards=1,
            source=RunOrigin.API,
            pod="test-pod",
        ).id
    else:
        stored = run_store.get(engine, run_id)
        assert stored is not None, f"no run {run_id!r} in the store"
        plan = Plan.from_record(stored.plan)
    started = float(math.floor(time.time()) - seconds)
    rec = Recorder(open_loop=plan.mode == "open")
    failing = set(range(0, len(latencies_us), max(1, len(latencies_us) // errors))[:errors]) if errors else set()
    per_second = max(1, math.ceil(len(latencies_us) / seconds))
    for second in range(seconds):
        for i in range(second * per_second, min(len(latencies_us), (second + 1) * per_second)):
            rec.scheduled += 1
            rec.on_sent(False)
            # Times from 0: (us + 0.5) / 1e6 s converts back to exactly `us` µs (an epoch time would lose the µs).
            end = (latencies_us[i] + 0.5) / 1e6
            rec.response_received(0.0, 0.0, end, 500 if i in failing else 200, pods[i % len(pods)])
        rec.roll_second(int(started) + second)
    state = DriverState(
        run_id=run_id,
        shards=ShardSet(count=1, indices=[0]),
        plan=plan.to_record(),
        started_at=started,
        updated_at=started + seconds,
        duration_s=float(seconds),
        finished=finished,
        stop_reason=StopReason.COMPLETED if finished else None,
        message=None,
        in_flight=0,
        connections=Connections(opened=1),
        **dict(rec.measurements()),
    )
    run_store.shard_started(engine, run_id, 0, "seed-host", 1)
    run_store.shard_progress(engine, run_id, 0, state, finished=finished)
    if finished:
        run_store.finish_if_complete(engine, run_id)
    return run_id
