"""The latency histogram's bins (driver/histo.latency_bins), which the run pages draw: fixed log-spaced edges, every
value in the bin whose [low, high) range holds it, nothing lost."""

from __future__ import annotations

import bisect
import itertools
import math
import random

from hdrh.histogram import HdrHistogram
from load_harness.driver import histo

EDGES = histo.BIN_EDGES_US


def recorded(values_us: list[int]) -> list[histo.LatencyBin]:
    hist = histo.new_histogram()
    for value in values_us:
        hist.record_value(value)
    return histo.latency_bins(hist)


def test_edges_are_fixed_log_spaced_and_cover_the_histogram() -> None:
    assert list(EDGES) == sorted(set(EDGES))
    assert EDGES[0] == histo.LOWEST_US
    assert EDGES[-1] > histo.HIGHEST_US
    grid = [math.log10(edge) * histo.BINS_PER_DECADE for edge in EDGES if edge >= 1000]
    # From 1 ms up each edge is a point of the 20-per-decade grid (moved by < 0.1 % onto an HDR bucket start)...
    assert all(abs(g - round(g)) < 0.01 for g in grid)
    # ...and consecutive edges are one grid step apart: none is missing.
    assert [round(b) - round(a) for a, b in itertools.pairwise(grid)] == [1] * (len(grid) - 1)
    # At least ten bins per decade wherever a request can land (whole µs below 10 µs are HDR's own resolution).
    assert all(high / low <= 10**0.1 for low, high in itertools.pairwise(EDGES) if low >= 10)


def test_every_value_lands_in_its_own_bin_and_counts_add_up() -> None:
    rng = random.Random(20240611)
    values = [round(10 ** rng.uniform(0, math.log10(histo.HIGHEST_US))) for _ in range(5000)]
    inside = [e for e in EDGES if e <= histo.HIGHEST_US]
    values += [1, histo.HIGHEST_US, *inside, *(e - 1 for e in inside[1:])]  # on both sides of every edge
    bins = recorded(values)
    assert sum(b.count for b in bins) == len(values)
    assert all(b.low_ms < b.high_ms for b in bins)
    assert all(a.high_ms == b.low_ms for a, b in itertools.pairwise(bins))  # contiguous, ascending
    expected = [0] * len(bins)
    for value in values:
        [index] = [i for i, b in enumerate(bins) if b.low_ms <= value / 1000 < b.high_ms]
        expected[index] += 1
    assert [b.count for b in bins] == expected


def test_a_run_near_6_ms_is_drawn_near_6_ms() -> None:
    # The bug this replaced: 600 requests at 5.7-5.9 ms were shown in a bar from 10 to 20 ms.
    bins = recorded([5700 + i % 200 for i in range(600)] + [8400 + 5 * i for i in range(40)])
    [bulk] = [b for b in bins if b.count == 600]
    assert bulk.low_ms <= 5.7
    assert 5.9 < bulk.high_ms < 10
    [tail] = [b for b in bins if b.count == 40]
    assert tail.low_ms <= 8.4
    assert tail.high_ms > 8.6
    # Trimmed at both ends, kept in between: the first and last bins hold data, the empty ones between are there.
    assert bins[0] is bulk
    assert bins[-1] is tail
    assert len(bins) == bisect.bisect_right(EDGES, 8600) - bisect.bisect_right(EDGES, 5700) + 1
    assert all(b.count == 0 for b in bins[1:-1])


def test_two_histograms_share_their_edges() -> None:
    a = recorded([5800] * 10 + [40_000])
    b = recorded([9000, 120_000])
    edges_ms = {e / 1000 for e in EDGES}
    assert {x for bin_ in a + b for x in (bin_.low_ms, bin_.high_ms)} <= edges_ms
    common = {x.low_ms for x in a} & {x.low_ms for x in b}
    assert common
    assert {x.low_ms: x.high_ms for x in a if x.low_ms in common} == {
        x.low_ms: x.high_ms for x in b if x.low_ms in common
    }


def test_empty_and_foreign_geometry() -> None:
    assert histo.latency_bins(histo.new_histogram()) == []
    other = HdrHistogram(1, 3_600_000_000, 2)  # another range and precision: re-homed, then binned
    other.record_value(5800)
    [only] = histo.latency_bins(other)
    assert only.count == 1
    assert only.low_ms <= 5.8 < only.high_ms
    assert histo.latency_bins(histo.merge_encoded([histo.encode(other), ""])) == [only]
