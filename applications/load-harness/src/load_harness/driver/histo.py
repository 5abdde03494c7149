"""HDR histogram helpers: one fixed geometry for every histogram, so any two can be added exactly.

Units are microseconds, range 1 µs to 60 s, 3 significant digits (0.1 % relative error). `hdrhistogram`'s own
`record_value` costs ~1.7 µs in Python; the driver records each request into up to four histograms, so it computes
the bucket index once (`index_of`) and bumps the counts arrays directly (`Recording.add`).
"""

from __future__ import annotations

import bisect
import itertools

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
