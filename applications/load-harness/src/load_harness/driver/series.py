"""The per-second time series, bounded: past `max_points` the bucket width doubles (downsampling).

A point is [t, sent, completed, errors, p50_us, p99_us] where t is the epoch second the bucket starts at. Counts
merge exactly. Percentiles of merged buckets (downsampling, or shards merged) cannot be exact without keeping a
histogram per bucket, so merged p50 is the completion-weighted mean and merged p99 the maximum (an upper bound).
The run's overall percentiles come from the full histograms and are exact.
"""

from __future__ import annotations

from load_harness.driver.state import SeriesData


def _combine(a: list[int], b: list[int]) -> list[int]:
    completed = a[2] + b[2]
    p50 = (a[4] * a[2] + b[4] * b[2]) // completed if completed else max(a[4], b[4])
    return [a[0], a[1] + b[1], completed, a[3] + b[3], p50, max(a[5], b[5])]


def rebucket(points: list[list[int]], interval: int, origin: int) -> list[list[int]]:
    """Group points into buckets of `interval` seconds counted from `origin`; points must be sorted by t."""
    out: list[list[int]] = []
    for point in points:
        key = origin + (point[0] - origin) // interval * interval
        keyed = [key, *point[1:]]
        if out and out[-1][0] == key:
            out[-1] = _combine(out[-1], keyed)
        else:
            out.append(keyed)
    return out


class Series:
    def __init__(self, max_points: int = 3600, interval: int = 1) -> None:
        self.max_points = max(2, max_points)
        self.interval = interval
        self.points: list[list[int]] = []

    def add(self, t: int, sent: int, completed: int, errors: int, p50_us: int, p99_us: int) -> None:
        point = [t, sent, completed, errors, p50_us, p99_us]
        points = self.points
        if points and self.interval > 1:
            origin = points[0][0]
            key = origin + (t - origin) // self.interval * self.interval
            if points[-1][0] == key:
                points[-1] = _combine(points[-1], [key, *point[1:]])
                return
            point[0] = key
        points.append(point)
        if len(points) > self.max_points:
            self.interval *= 2
            self.points = rebucket(points, self.interval, points[0][0])

    def snapshot(self) -> SeriesData:
        return SeriesData(interval_s=self.interval, points=[list(p) for p in self.points])


def merge_series(series: list[SeriesData], max_points: int = 3600) -> SeriesData:
    """Merge the series of several shards: the same epoch second adds up."""
    interval = max((s.interval_s for s in series), default=1)
    points = sorted((list(p) for s in series for p in s.points), key=lambda p: p[0])
    if not points:
        return Series(max_points, interval).snapshot()
    merged = rebucket(points, interval, points[0][0])
    while len(merged) > max_points:
        interval *= 2
        merged = rebucket(merged, interval, merged[0][0])
    result = Series(max_points, interval)
    result.points = merged
    return result.snapshot()
