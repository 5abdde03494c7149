"""What the autoscaling tests share: the recorded run and cluster timeline, a timeline source replaying it, and a
real run in the store made from it.

The fixture (tests/fixtures/autoscaling/ramp-1-2-4.json) holds a 300 s run in two stages, as GET /runs/{id} shows it,
and the ClusterTimeline of its window: an HPA with a 50 % CPU target scaling 1 → 2 → 4."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from flask import Flask
from load_harness.context import KEY, AppServices
from load_harness.driver.plan import PlanRecord
from load_harness.driver.recorder import Recorder
from load_harness.driver.state import Connections, DriverState, ShardSet, StopReason
from load_harness.observe.timeline import ClusterTimeline, TimelineUnavailable
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOptions, RunOrigin
from load_harness.runs.view import RunDetailView

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "autoscaling" / "ramp-1-2-4.json"


@dataclass(frozen=True)
class Recording:
    run: RunDetailView
    timeline: ClusterTimeline


def load_recording() -> Recording:
    doc = json.loads(FIXTURE.read_text())
    return Recording(RunDetailView.model_validate(doc["run"]), ClusterTimeline.model_validate(doc["timeline"]))


@dataclass
class RecordedTimeline:
    """A TimelineSource that replays a recording, and notes each window it was asked for."""

    recorded: ClusterTimeline | TimelineUnavailable
    source: str = "recorded"
    asked: list[tuple[float, float, float]] = field(default_factory=list)

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable:
        self.asked.append((start, end, step_seconds))
        return self.recorded


def use_timeline(app: Flask, source: RecordedTimeline | None) -> None:
    """The app's providers (built at start-up), with this timeline source."""
    services: AppServices = app.extensions[KEY]
    services.use_providers(replace(services.providers(), timeline=source))


def store_recorded_run(app: Flask, run: RunDetailView) -> str:
    """The recorded run as a shard reports it: its plan in a runs row, and a state recorded response by response
    by the driver's own Recorder from the recorded per-second series (errors as 5 s timeouts)."""
    assert run.summary is not None
    engine = app.extensions[KEY].engine
    plan = PlanRecord(url=run.target, mode="open", start_target=run.start_target, stages=run.stages)
    run_id = run_store.create(
        engine,
        target=run.target,
        plan=plan,
        options=RunOptions(name=run.options.name, placement="local"),
        shards=1,
        source=RunOrigin.API,
        pod="test-pod",
    ).id
    rec = Recorder(open_loop=True)
    for t, sent, completed, errors, _p50, _p99 in run.summary.series.points:
        for i in range(sent):
            rec.scheduled += 1
            rec.on_sent(False)
            if i < completed - errors:
                rec.response_received(0.0, 0.0, 0.008, 200, "load-harness-a")
            else:
                rec.failure(0.0, 0.0, 5.0, "timeout", "Timeout")
        rec.roll_second(t)
    started = run.summary.started_at
    state = DriverState(
        run_id=run_id,
        shards=ShardSet(count=1, indices=[0]),
        plan=plan,
        started_at=started,
        updated_at=started + run.summary.duration_s,
        duration_s=run.summary.duration_s,
        finished=True,
        stop_reason=StopReason.COMPLETED,
        message=None,
        in_flight=0,
        connections=Connections(opened=1),
        **dict(rec.measurements()),
    )
    run_store.shard_started(engine, run_id, 0, "seed-host", 1)
    run_store.shard_progress(engine, run_id, 0, state, finished=True)
    run_store.finish_if_complete(engine, run_id)
    return run_id
