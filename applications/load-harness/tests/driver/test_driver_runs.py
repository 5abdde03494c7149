"""The engine against real local servers: pacing, closed loop, stages, coordinated omission, pods, shards, sinks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lh_support_procs import own_time
from load_harness.driver import histo
from load_harness.driver.plan import Plan, constant_plan, parse_stages
from load_harness.driver.runner import Runner
from load_harness.driver.state import STATE_FORMAT, DriverState, RunMeta
from load_harness.driver.summary import merge, summarize


def run(plan: Plan, **options: Any) -> DriverState:
    return asyncio.run(Runner(plan, **options).run())


def dropped(state: DriverState) -> int:
    return state.counters.total_dropped()


def assert_schedule_kept(state: DriverState, arrivals: int) -> None:
    """The plan's arrivals are scheduled exactly (the integral of the rate, whatever the machine is doing), and each
    one is either sent or reported as dropped: nothing is skipped silently."""
    counters = state.counters
    assert counters.scheduled == pytest.approx(arrivals, abs=1), counters
    assert counters.sent + dropped(state) == counters.scheduled, counters


def test_open_loop_achieves_the_rate(backend: Any) -> None:
    state = run(constant_plan(backend.url + "/", "open", 200, 3.0))
    summary = summarize(state)
    req, thr = summary.requests, summary.throughput
    assert_schedule_kept(state, 600)
    assert req.completed == req.sent
    assert req.errors == 0
    if not dropped(state):
        # A driver that had the CPU to send every arrival on time must have sent them at the rate. On a machine
        # busy enough to make it drop some, the accounting above is what it controls, and what is checked.
        assert thr.completed_rps == pytest.approx(200, rel=0.02)
        assert abs(thr.pacing_error_pct) <= 2
    assert state.format == STATE_FORMAT
    assert state.stop_reason == "completed"
    assert summary.pods[0].pod == "pod-a"
    assert summary.latency_ms.corrected is True


def test_closed_loop_keeps_concurrency_and_measures_service_time(backend: Any) -> None:
    # 20 ms per request and 4 loops: about 200 req/s, never more than 4 in flight.
    state = run(constant_plan(backend.url + "/?delay_ms=20", "closed", 4, 1.5))
    summary = summarize(state)
    # At most 4 loops × 1 / 20 ms; how close it gets depends on the CPU the machine gives the driver.
    assert 0 < summary.throughput.completed_rps <= 205
    assert summary.requests.completed >= 4  # every loop finished requests
    assert summary.latency_ms.corrected is False
    assert summary.latency_ms.service.p50 >= 20
    assert summary.latency_ms.response == summary.latency_ms.service
    assert state.connections.opened == 4


def test_open_loop_stages_ramp_up(backend: Any) -> None:
    plan = Plan(backend.url + "/", "open", 0, parse_stages("1s:60,1s:180,1s:300"))
    state = run(plan)
    sent = [point[1] for point in state.series.points]
    assert len(sent) >= 3
    assert sent[0] < sent[1] < sent[2], sent
    assert_schedule_kept(state, 30 + 120 + 240)


def test_closed_loop_stages_ramp_up(backend: Any) -> None:
    plan = Plan(backend.url + "/?delay_ms=20", "closed", 1, parse_stages("2s:6"))
    completed = [point[2] for point in run(plan).series.points]
    assert completed[0] < completed[1], completed


def test_coordinated_omission_is_corrected(backend_factory: Any) -> None:
    """The server stalls for 1 s once. The 2 requests in flight see it as service time; the ~200 arrivals due
    meanwhile cannot be sent (in-flight cap 2): the backlog goes out late and is timed from its schedule, the rest
    is counted as dropped. The corrected p99 shows the stall, the service-time p99 hides it."""
    stalling = backend_factory(stall_after_s=0.5, stall_s=1.0)
    plan = constant_plan(stalling.url + "/", "open", 200, 3.0, max_in_flight=2)
    summary = summarize(run(plan))
    latency, req = summary.latency_ms, summary.requests
    assert latency.response.p99 > 500, latency
    assert latency.service.p99 < 200, latency
    assert latency.response.p99 > 5 * latency.service.p99
    assert req.dropped_max_in_flight > 100, req  # reported, not hidden
    assert req.errors == 0


def test_timeouts_are_enforced_per_request(backend: Any) -> None:
    # Own time: the wall time minus what the machine kept this thread off the CPU (lh_support_procs.own_time).
    with own_time() as took:
        state = run(constant_plan(backend.url + "/?delay_ms=1500", "closed", 2, 0.5, timeout_s=0.3))
    assert took.seconds < 2.5, took  # 0.5 s and a last 0.3 s timeout, not the 1.5 s responses
    assert state.error_classes["timeout"] >= 2
    assert state.latency.max_response_us >= 300_000  # timeouts count at the time waited


def test_unreachable_target_fails_fast(unreachable_url: str) -> None:
    with own_time() as took:
        state = run(constant_plan(unreachable_url, "closed", 4, 30.0))
    assert took.seconds < 3, took
    assert state.stop_reason == "aborted"
    assert "unreachable" in state.message
    assert state.error_classes["connect"] >= 20


def test_status_codes_and_error_classes(backend: Any) -> None:
    summary = summarize(run(constant_plan(backend.url + "/?status=503", "closed", 2, 0.3)))
    assert set(summary.status_codes) == {"503"}
    assert summary.error_classes["5xx"] == summary.requests.completed > 0
    assert summary.requests.error_rate_pct == 100
    assert summary.pods[0].errors == summary.pods[0].count


def test_pod_name_from_json_body_when_no_header(backend_factory: Any) -> None:
    backend = backend_factory(pod="pod-json", pod_in_body=True)
    summary = summarize(run(constant_plan(backend.url + "/", "closed", 2, math_inf(), requests=20)))
    assert summary.requests.completed == 20
    assert summary.stop_reason == "requests"
    assert [p.pod for p in summary.pods] == ["pod-json"]


def math_inf() -> float:
    return float("inf")


def test_pods_behind_nginx_round_robin(pods_nginx: Any) -> None:
    summary = summarize(run(constant_plan(pods_nginx.url + "/", "closed", 6, math_inf(), requests=600)))
    shares = {p.pod: p.share_pct for p in summary.pods}
    assert set(shares) == {"pod-a", "pod-b", "pod-c"}, shares
    assert all(25 <= share <= 42 for share in shares.values()), shares
    assert summary.requests.errors == 0


def test_reconnects_transparently_when_nginx_closes_keepalive(static_nginx: Any) -> None:
    # This nginx closes each keep-alive connection after 50 requests (the default is 1000).
    state = run(constant_plan(static_nginx.url + "/", "closed", 8, math_inf(), requests=2000))
    assert state.counters.completed == 2000
    assert state.counters.errors == 0
    assert state.connections.opened >= 2000 // 50


def test_shard_states_merge_exactly(backend: Any) -> None:
    plan = constant_plan(backend.url + "/", "open", 100, 1.0)
    states = [run(plan.for_shard(i, 2)) for i in range(2)]
    merged = merge(states)
    assert merged.counters.scheduled == sum(s.counters.scheduled for s in states) == 100
    sent = merged.counters.sent
    assert sent == sum(s.counters.sent for s in states) == 100 - dropped(merged)
    assert merged.shards.model_dump() == {"count": 2, "indices": [0, 1]}
    counts = [histo.decode(s.latency.response).get_total_count() for s in states]
    assert histo.decode(merged.latency.response).get_total_count() == sum(counts) == sent
    assert merged.pods["pod-a"].count == sent
    assert sum(p[1] for p in merged.series.points) == sent
    # One shard's own summary owes only its share of the rate (these shards ran one after the other, so the
    # merged window is twice as long: its rate figures are checked in the CLI's concurrent --shards test).
    assert summarize(states[0]).throughput.target_rps == pytest.approx(50, rel=0.01)
    if not dropped(states[1]):
        assert abs(summarize(states[1]).throughput.pacing_error_pct) <= 2


class RecordingSink:
    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after
        self.meta: RunMeta | None = None
        self.progress_states: list[DriverState] = []
        self.final: DriverState | None = None

    def start(self, meta: RunMeta) -> None:
        self.meta = meta

    def progress(self, state: DriverState) -> None:
        self.progress_states.append(state)

    def finish(self, state: DriverState) -> None:
        self.final = state

    def should_stop(self) -> bool:
        return len(self.progress_states) >= self.stop_after


def test_sink_sees_progress_and_can_stop_the_run(backend: Any) -> None:
    sink = RecordingSink(stop_after=2)
    with own_time() as took:
        state = run(constant_plan(backend.url + "/", "open", 50, 30.0), sink=sink, run_id="run-42")
    assert took.seconds < 5, took  # stopped after two progress reports, not the 30 s planned
    assert sink.meta is not None
    assert sink.meta.run_id == "run-42"
    assert sink.meta.shards == 1
    assert len(sink.progress_states) >= 2
    sent = [s.counters.sent for s in sink.progress_states]
    assert sent == sorted(sent)
    assert not sink.progress_states[0].finished
    assert sink.final is state
    assert state.finished
    assert state.stop_reason == "stopped"
    assert state.run_id == "run-42"
