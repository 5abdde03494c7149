"""The autoscaling report computed from a recorded run and cluster timeline (tests/fixtures/autoscaling): reaction
times, time to steady state and cost, each worked out by hand from the recording below.

The recording (T0 = its start): the driver ramps 0 → 108 req/s over stage 1 (60 s), then holds 108 for stage 2
(240 s). One ready pod answers 50 req/s at 100 % of its 0.5-core request; the excess times out. The HPA (target
50 %) scales to 2 at T0+30 s (pod b created +31, ready +55) and to 4 at +60 (pods c and d created +61, ready +85 and
+90). Steps are 10 s."""

from __future__ import annotations

import pytest
from autoscaling.recorded import Recording
from load_harness.autoscaling import compute
from load_harness.autoscaling.compute import build_report
from load_harness.autoscaling.cost import DEFAULT_GB_HOUR_USD, DEFAULT_VCPU_HOUR_USD, prices_for
from load_harness.autoscaling.model import Prices
from load_harness.observe.timeline import TimelineUnavailable

# The default prices, worked out by hand: a spot t3.large ($0.031/h, 2 vCPU, 8 GiB) split by OpenCost's ratio of
# its default prices ($0.031611 per vCPU-hour over $0.004237 per GiB-hour).
RATIO = 0.031611 / 0.004237
GIB_HOUR = 0.031 / (2 * RATIO + 8)
VCPU_HOUR = GIB_HOUR * RATIO

T0 = 1_700_000_000
# 29,106 sent: 3,186 in the ramp (Σ round(1.8 i), i < 60) + 240 × 108. 856 timed out: 642 while one pod served
# 50/s (29–54 s), 14 at 55–59 s (two pods: 99, 101, 103, 104, 106 offered), 25 × 8 at 60–84 s (two pods, 108 offered).
REQUESTS_OK = 29_106 - 856
# Pod lives inside [T0, T0+300]: a all 300 s, b from +31, c and d from +61.
POD_SECONDS = 300 + 269 + 239 + 239
# CPU samples (cores) × 10 s. a: 0.18 + 0.36 + 0.5 × 6 (+30…+80) + 0.27 × 21 (+90…+290) = 9.21;
# b: 0.1 × 2 starting + 0.5 × 3 + 0.27 × 21 = 7.37; c and d: 0.1 × 2 + 0.27 × 21 = 5.87 each.
CPU_SECONDS = (9.21 + 7.37 + 5.87 + 5.87) * 10


@pytest.fixture
def prices_512mb() -> Prices:
    return prices_for(None, None, 512)


def test_default_prices_split_a_spot_t3_large_by_opencosts_ratio() -> None:
    # GiB-hour = $0.031 / (2 vCPU x 7.4607 + 8 GiB); a vCPU-hour is 7.4607 GiB-hours; together they are the node.
    assert pytest.approx(0.0013524, abs=1e-7) == DEFAULT_GB_HOUR_USD
    assert pytest.approx(0.0100902, abs=1e-7) == DEFAULT_VCPU_HOUR_USD
    assert pytest.approx(0.031) == 2 * DEFAULT_VCPU_HOUR_USD + 8 * DEFAULT_GB_HOUR_USD
    prices = prices_for(0.04, None, None)
    assert (prices.vcpu_hour_usd, prices.gb_hour_usd, prices.pod_memory_gb) == (0.04, DEFAULT_GB_HOUR_USD, None)
    assert "configured: vCPU-hour" in prices.basis
    assert "t3.large" in prices.basis


def test_reaction_times_of_each_scale_up(recording: Recording, prices_512mb: Prices) -> None:
    report = build_report(recording.run, recording.timeline, prices_512mb)
    first, second = report.reactions
    # 1 → 2: above target (55 % with the HPA's tolerance) first at +20 (a at 0.36 cores = 72 %; +10 was 36 %),
    # the decision at +30, pod b ready at +55.
    assert (first.from_replicas, first.to_replicas) == (1, 2)
    assert (first.first_above_target_at, first.decision_at, first.pod_ready_at) == (T0 + 20, T0 + 30, T0 + 55)
    assert (first.above_to_decision_s, first.decision_to_ready_s, first.above_to_ready_s) == (10, 25, 35)
    assert (first.decision_source, first.ready_source) == ("event SuccessfulRescale", "pod ready_at")
    # 2 → 4: first step above target after +30 is +40 (a 100 %, b starting at 20 %: average 60 %), the decision
    # at +60, the last of pods c and d ready at +90.
    assert (second.from_replicas, second.to_replicas) == (2, 4)
    assert (second.first_above_target_at, second.decision_at, second.pod_ready_at) == (T0 + 40, T0 + 60, T0 + 90)
    assert (second.above_to_decision_s, second.decision_to_ready_s, second.above_to_ready_s) == (20, 30, 50)


def test_time_to_steady_state_of_each_stage(recording: Recording, prices_512mb: Prices) -> None:
    report = build_report(recording.run, recording.timeline, prices_512mb)
    one, two = report.stages
    # Stage 1 (0–60 s): replicas last change at +40 (current 1 → 2); 3 calm steps from there end at +70, after
    # the stage: no steady state.
    assert (one.starts_at, one.ends_at, one.steady_state_after_s) == (T0, T0 + 60, None)
    assert "replicas last changed 40 s into it" in one.note
    # Stage 2 (from +60): replicas last change at +70 (current → 4). [70, 80): 100 of 108 answered (7.4 % short);
    # [80, 90): 5 s at 100 and 5 s at 108 (pod c ready at +85) average 104, 3.7 % short: within 5 %; then 108.
    assert (two.starts_at, two.steady_at, two.steady_state_after_s) == (T0 + 60, T0 + 80, 20)


def test_cost_from_cpu_integrals_and_pod_lives(recording: Recording, prices_512mb: Prices) -> None:
    cost = build_report(recording.run, recording.timeline, prices_512mb).cost
    assert cost.cpu_seconds == pytest.approx(283.2)
    assert cost.cpu_seconds == pytest.approx(CPU_SECONDS)
    assert cost.pod_hours == pytest.approx(POD_SECONDS / 3600)  # 0.2908 pod-hours
    assert cost.pod_hours_source == "pod lives"
    # Each pod requests 0.5 cores and 512 MiB = 0.5 GiB for its life in the window.
    assert cost.vcpu_hours_reserved == pytest.approx(0.5 * 1047 / 3600)
    assert cost.gb_hours_reserved == pytest.approx(0.5 * 1047 / 3600)
    expected = 0.5 * 1047 / 3600 * VCPU_HOUR + 0.5 * 1047 / 3600 * GIB_HOUR  # $0.0016639
    assert cost.cost_usd == pytest.approx(expected)
    assert cost.requests_ok == REQUESTS_OK == 28_250
    assert cost.cost_per_1000_requests_usd == pytest.approx(expected / 28_250 * 1000)  # $0.0000589
    assert cost.cpu_used_cost_usd == pytest.approx(283.2 / 3600 * VCPU_HOUR)
    assert cost.notes == []


def test_memory_is_not_charged_without_a_request(recording: Recording) -> None:
    cost = build_report(recording.run, recording.timeline, prices_for(None, None, None)).cost
    assert cost.gb_hours_reserved is None
    assert cost.cost_usd == pytest.approx(0.5 * 1047 / 3600 * VCPU_HOUR)
    assert any("POD_MEMORY_REQUEST_MB" in note for note in cost.notes)


def test_without_events_or_pod_lives_the_replica_counts_decide(recording: Recording, prices_512mb: Prices) -> None:
    bare = recording.timeline.model_copy(update={"events": [], "pods": []})
    report = build_report(recording.run, bare, prices_512mb)
    first, second = report.reactions
    # replicas_desired rises at +30 and +60; replicas_current reaches 2 at +40 and 4 at +70.
    assert (first.decision_at, first.decision_source, first.pod_ready_at) == (T0 + 30, "replicas_desired", T0 + 40)
    assert (second.decision_at, second.pod_ready_at, second.ready_source) == (T0 + 60, T0 + 70, "replicas_current")
    # Pod-hours then come from ∫ replicas_current: 1 × 4 steps + 2 × 3 + 4 × 23, of 10 s.
    assert report.cost.pod_hours == pytest.approx((4 + 6 + 92) * 10 / 3600)
    assert report.cost.pod_hours_source == "replicas_current integral"
    assert any("HPA events" in text for text in report.missing)
    assert any("pod lives" in text for text in report.missing)


def test_an_unavailable_timeline_still_reports_the_run(recording: Recording, prices_512mb: Prices) -> None:
    down = TimelineUnavailable(source="Prometheus", reason="connection refused at 127.0.0.1:9")
    report = build_report(recording.run, down, prices_512mb)
    assert report.missing == ["the whole cluster timeline (Prometheus): connection refused at 127.0.0.1:9"]
    assert report.reactions == []
    assert report.cluster.pod_cpu == []
    assert len(report.run_series.offered_rps) == 300
    assert report.run_series.offered_rps[100].value == 108
    assert report.run_series.achieved_rps[70].value == 100
    # The rate alone, on 10 s steps: stage 1 keeps up from the start ([20, 30): 43.9 of 44.1 answered), stage 2
    # from +80 as above.
    one, two = report.stages
    assert (one.steady_state_after_s, two.steady_state_after_s) == (0, 20)
    assert "replicas unknown" in one.note
    assert report.cost.cpu_seconds is None
    assert report.cost.cost_usd is None
    assert report.cost.requests_ok == REQUESTS_OK
    assert any("Prometheus" in note for note in report.cost.notes)


def test_above_target_uses_the_hpa_tolerance(recording: Recording, prices_512mb: Prices) -> None:
    # At +40 and +50 the pod average is 60 %: above 50 × 1.1 = 55, but not above 60.5, the 55 % target with the
    # tolerance. The first step above that after +30 is +60 (a and b both at 100 %).
    higher = recording.timeline.model_copy(update={"target_cpu_percent": 55.0})
    second = build_report(recording.run, higher, prices_512mb).reactions[1]
    assert second.first_above_target_at == T0 + 60
    assert compute.HPA_TOLERANCE == 0.1
