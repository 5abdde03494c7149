"""A self-contained HTML report (`load-harness drive --report FILE`): static tables and inline SVG charts, no
scripts, no external resources. The page is templates/driver/report.html; this module only holds the arithmetic
the charts need and writes the file."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from load_harness.driver.state import LATENCY_STATS, LatencyStats, Summary
from load_harness.driver.thresholds import ThresholdResult

TEMPLATE = "driver/report.html"


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec)


def _utc(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stat(stats: LatencyStats, name: str) -> float:
    """One latency statistic by its name, p99.9 included."""
    return stats.value(name)


def _column(points: Sequence[Sequence[float]], index: int, scale: float) -> list[float]:
    return [point[index] * scale for point in points]


def _chart_top(series: Sequence[tuple[str, str, Sequence[float]]]) -> float:
    return max((max(values) for _, _, values in series if values), default=0.0) or 1.0


def _polyline(values: Sequence[float], width: int, height: int, top: float) -> str:
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - (v / top * height if top else 0):.1f}" for i, v in enumerate(values))


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("load_harness", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=_fmt, utc=_utc)
    env.globals.update(
        stat=_stat, column=_column, chart_top=_chart_top, polyline=_polyline, latency_stats=LATENCY_STATS
    )
    return env


def render_html(summary: Summary, checks: Sequence[ThresholdResult] | None = None) -> str:
    return _environment().get_template(TEMPLATE).render(summary=summary, checks=list(checks or []))


def write_report(path: Path, summary: Summary, checks: Sequence[ThresholdResult] | None = None) -> None:
    path.write_text(render_html(summary, checks), encoding="utf-8")
