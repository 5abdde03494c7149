"""HDR histogram helpers: one fixed geometry for every histogram, so any two can be added exactly.

Units are microseconds, range 1 µs to 60 s, 3 significant digits (0.1 % relative error). `hdrhistogram`'s own
`record_value` costs ~1.7 µs in Python; the driver records each request into up to four histograms, so it computes
the bucket index once (`index_of`) and bumps the counts arrays directly (`Recording.add`).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000
DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


_TEMPLATE = new_histogram()
_MASK = _TEMPLATE.sub_bucket_mask
_UNIT = _TEMPLATE.unit_magnitude
_SHIFT = _TEMPLATE.sub_bucket_half_count_magnitude
_HALF = _TEMPLATE.sub_bucket_half_count


def clamp_us(value: int) -> int:
    return LOWEST_US if value < LOWEST_US else HIGHEST_US if value > HIGHEST_US else value


def index_of(value: int) -> int:
    """Counts index of a clamped value; the same arithmetic as HdrHistogram._counts_index_for."""
    bucket = (value | _MASK).bit_length() - _UNIT - (_SHIFT + 1)
    return ((bucket + 1) << _SHIFT) + (value >> (bucket + _UNIT)) - _HALF


def add_at(hist: HdrHistogram, index: int, value: int) -> None:
    """Record `value` whose index is already known (the fast path of record_value)."""
    hist.counts[index] += 1
    hist.total_count += 1
    if value > hist.max_value:
        hist.max_value = value
    if value < hist.min_value:
        hist.min_value = value


def encode(hist: HdrHistogram) -> str:
    """Compressed, base64 HdrHistogram V2 payload: the interchange format between shards and replicas."""
    return str(hist.encode().decode("ascii"))


def decode(payload: str) -> HdrHistogram:
    hist = HdrHistogram.decode(payload.encode("ascii"))
    # Re-home into our geometry: a decoded histogram may come back with a different word size or range.
    if hist.counts_len != _TEMPLATE.counts_len or hist.word_size != _TEMPLATE.word_size:
        fresh = new_histogram()
        fresh.add(hist)
        return fresh
    return hist


def merge_encoded(payloads: list[str]) -> HdrHistogram:
    total = new_histogram()
    for payload in payloads:
        if payload:
            total.add(decode(payload))
    return total


def percentiles(hist: HdrHistogram, points: list[float]) -> dict[float, int]:
    """Values (µs) at the given percentiles, with the same rule as HdrHistogram.get_value_at_percentile.

    One cumulative pass in C (itertools.accumulate) instead of hdrhistogram's Python loop per percentile.
    """
    total = hist.total_count
    if total == 0:
        return dict.fromkeys(points, 0)
    cumulative = list(itertools.accumulate(hist.counts))
    out: dict[float, int] = {}
    for point in points:
        target = max(int(min(point, 100.0) * total / 100 + 0.5), 1)
        index = min(bisect.bisect_left(cumulative, target), hist.counts_len - 1)
        out[point] = int(hist.get_highest_equivalent_value(hist.get_value_from_index(index)))
    return out


def mean_us(hist: HdrHistogram) -> float:
    if hist.total_count == 0:
        return 0.0
    total = 0
    for index, count in enumerate(hist.counts):
        if count:
            total += count * hist._hdr_median_equiv_value(hist.get_value_from_index(index))
    return total / hist.total_count


# -- latency bins for charts ------------------------------------------------------------------------------------

BINS_PER_DECADE = 20


@dataclass(frozen=True)
class LatencyBin:
    """`count` values v (ms) with low_ms <= v < high_ms."""

    low_ms: float
    high_ms: float
    count: int


def _bin_edges() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Fixed bin edges (µs) and the counts index at which each begins.

    Edge k is 10^(k/20) µs rounded to a whole µs, then moved down (by at most 0.1 %) to the start of its HDR bucket,
    so that every HDR bucket lies inside exactly one bin and the binning loses nothing. Below 10 µs whole µs collide,
    so those bins are 1 µs wide. The last edge lies above the highest value the histogram can hold. The first bin
    also holds index 0 (value 0, which the driver never records: it clamps to 1 µs)."""
    top_index = _TEMPLATE.counts_len
    top_value = _TEMPLATE.get_highest_equivalent_value(_TEMPLATE.get_value_from_index(top_index - 1))
    edges: list[int] = []
    starts: list[int] = []
    k = 0
    while not starts or starts[-1] < top_index:
        raw = round(10 ** (k / BINS_PER_DECADE))
        k += 1
        start = index_of(raw) if raw <= top_value else top_index
        if starts and start <= starts[-1]:
            continue
        edges.append(int(_TEMPLATE.get_value_from_index(start)) if start < top_index else raw)
        starts.append(start)
    starts[0] = 0
    return tuple(edges), tuple(starts)


BIN_EDGES_US, _BIN_STARTS = _bin_edges()


def latency_bins(hist: HdrHistogram) -> list[LatencyBin]:
    """The histogram's counts over the fixed, log-spaced BIN_EDGES_US (20 per decade from 10 µs), as bins in ms.

    Empty bins are left off at both ends and kept in between, so the bins returned are contiguous. The edges are
    the same for every histogram: two runs' bins line up."""
    if hist.counts_len != _TEMPLATE.counts_len or hist.word_size != _TEMPLATE.word_size:
        fresh = new_histogram()
        fresh.add(hist)
        hist = fresh
    if hist.total_count == 0:
        return []
    cumulative = [0, *itertools.accumulate(hist.counts)]
    counts = [cumulative[end] - cumulative[begin] for begin, end in itertools.pairwise(_BIN_STARTS)]
    used = [i for i, count in enumerate(counts) if count]
    if not used:
        return []
    return [
        LatencyBin(BIN_EDGES_US[i] / 1000.0, BIN_EDGES_US[i + 1] / 1000.0, counts[i])
        for i in range(used[0], used[-1] + 1)
    ]
