"""Pure units of the driver: plans and pacing schedule, histograms, series, thresholds, merge."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from load_harness.driver import histo
from load_harness.driver.plan import (
    Plan,
    PlanError,
    PlanRecord,
    constant_plan,
    parse_duration,
    parse_stages,
    split_evenly,
    target_integral,
)
from load_harness.driver.series import Series, merge_series
from load_harness.driver.thresholds import ThresholdError, parse_threshold


def test_durations_and_stages() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2") == 2
    for bad in ("", "abc", "10x", "-1s", "0s", "1s2"):
        with pytest.raises(PlanError):
            parse_duration(bad)
    assert [(s.duration_s, s.target) for s in parse_stages("30s:100, 1m:500,30s:0")] == [
        (30, 100),
        (60, 500),
        (30, 0),
    ]
    for bad in ("30s", "30s:x", "30s:-1", ","):
        with pytest.raises(PlanError):
            parse_stages(bad)


def test_constant_rate_schedule_is_exact() -> None:
    plan = constant_plan("http://x/", "open", 200, 3.0)
    times = list(itertools.takewhile(lambda t: t < 3.0, plan.arrival_offsets()))
    assert len(times) == 600
    assert times[1] - times[0] == pytest.approx(0.005)


def test_ramp_schedule_integrates_the_rate_and_shards_add_up() -> None:
    plan = Plan("http://x/", "open", 0, parse_stages("2s:100,2s:100,1s:0"))
    times = list(itertools.takewhile(lambda t: t < plan.duration_s, plan.arrival_offsets()))
    per_second = [sum(1 for t in times if int(t) == s) for s in range(5)]
    assert per_second == [25, 75, 100, 100, 50]
    assert target_integral(plan, 5.0) == pytest.approx(350)
    shard_total = 0
    for index in range(3):
        shard = plan.for_shard(index, 3)
        shard_total += sum(1 for _ in itertools.takewhile(lambda t: t < 5.0, shard.arrival_offsets()))
    assert shard_total == 350


def test_closed_loop_shares_and_plan_round_trip() -> None:
    assert [split_evenly(10, i, 3) for i in range(3)] == [4, 3, 3]
    plan = Plan("http://x/", "closed", 1, parse_stages("10s:11"), requests=7)
    assert [plan.for_shard(i, 2).concurrency_at(10) for i in range(2)] == [6, 5]
    assert [plan.for_shard(i, 2).shard_requests for i in range(2)] == [4, 3]
    assert Plan.from_record(PlanRecord.model_validate(plan.to_record().model_dump(mode="json"))) == plan
    unbounded = constant_plan("http://x/", "open", 5, math.inf, requests=10)
    assert unbounded.to_record().duration_s is None
    assert Plan.from_record(unbounded.to_record()) == unbounded


def test_fast_histogram_path_matches_hdrhistogram() -> None:
    fast, reference = histo.new_histogram(), histo.new_histogram()
    rng = random.Random(7)
    for _ in range(20_000):
        value = histo.clamp_us(int(rng.lognormvariate(7, 2)))
        histo.add_at(fast, histo.index_of(value), value)
        reference.record_value(value)
    for point in (50.0, 99.0, 99.9, 100.0):
        assert histo.percentiles(fast, [point])[point] == reference.get_value_at_percentile(point)
    decoded = histo.decode(histo.encode(fast))
    assert decoded.get_total_count() == 20_000
    both = histo.merge_encoded([histo.encode(fast), histo.encode(reference)])
    assert both.get_total_count() == 40_000
    assert both.get_value_at_percentile(99) == reference.get_value_at_percentile(99)


def test_series_is_bounded_and_merges_by_second() -> None:
    series = Series(max_points=10)
    for t in range(1000, 1035):
        series.add(t, 2, 2, 1, 100, 200)
    data = series.snapshot()
    assert len(data.points) <= 10
    assert data.interval_s == 4
    assert sum(p[1] for p in data.points) == 70
    merged = merge_series([data, data])
    assert sum(p[3] for p in merged.points) == 70


def test_threshold_parsing() -> None:
    assert parse_threshold("p99<500ms").limit == 500
    assert parse_threshold("p99.9<=1s").limit == 1000
    assert parse_threshold("errors<1%").metric == "errors"
    assert parse_threshold("rps>100").op == ">"
    assert parse_threshold("service.p50<2ms").metric == "service.p50"
    for bad in ("p99<500", "p98<1s", "errors<1ms", "rps>1s", "nonsense", "service.rps>1"):
        with pytest.raises(ThresholdError):
            parse_threshold(bad)
