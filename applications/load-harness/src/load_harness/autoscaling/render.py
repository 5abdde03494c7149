"""The report's charts as SVG drawn here, in Python: the exported HTML file needs no script, and the run detail page
shows the same drawings. Only presentation attributes are used (no `style`), so no CSP has to allow inline styles
for them; axes and labels use currentColor and follow the page's text colour (dark mode included)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from load_harness.autoscaling.model import AutoscalingReport
from load_harness.observe.timeline import Point

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 26, 12, 40
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
GRID_LINES = 4


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[Point]
    colour: str
    dashed: bool = False
    steps: bool = False  # a count that holds until the next sample (replicas)


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    lines: list[Line]
    origin: float  # Unix seconds shown as 0 on the x axis
    span: float  # seconds on the x axis
    log: bool = False
    marks: list[tuple[float, str]] = field(default_factory=list)  # vertical lines: (time, label)
    level: tuple[float, str] | None = None  # a horizontal line: (value, label), e.g. the HPA's target
    counts: bool = False  # whole numbers (pods): one grid line per unit

    @property
    def grid_lines(self) -> int:
        if self.counts:
            return max(1, int(_y_range(self)[1]))
        return GRID_LINES


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:.3g}"


def _y_range(chart: Chart) -> tuple[float, float]:
    values = [p.value for line in chart.lines for p in line.points]
    if chart.level is not None:
        values.append(chart.level[0])
    if chart.log:
        positive = [v for v in values if v > 0] or [1.0]
        return 10 ** math.floor(math.log10(min(positive))), 10 ** math.ceil(math.log10(max(positive)))
    top = max(values, default=1.0) or 1.0
    if chart.counts:
        return 0.0, float(math.floor(top) + 1)
    magnitude = 10 ** math.floor(math.log10(top))
    return 0.0, math.ceil(top / magnitude * 1.05) * magnitude


def svg(chart: Chart) -> Markup:
    """One chart as an <svg> element with a <title> (its accessible name) and a legend under the plot."""
    low, high = _y_range(chart)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = chart.span or 1.0

    def x(t: float) -> float:
        return LEFT + max(0.0, min(1.0, (t - chart.origin) / span)) * plot_w

    def y(value: float) -> float:
        if chart.log:
            value = max(value, low)
            share = (math.log10(value) - math.log10(low)) / ((math.log10(high) - math.log10(low)) or 1)
        else:
            share = (value - low) / ((high - low) or 1)
        return TOP + (1 - max(0.0, min(1.0, share))) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'font-family="system-ui, sans-serif" font-size="11" fill="currentColor">',
        f"<title>{escape(chart.title)}</title>",
    ]
    lines = chart.grid_lines
    for k in range(lines + 1):
        value = low * (high / low) ** (k / lines) if chart.log else low + (high - low) * k / lines
        gy = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="currentColor" '
            f'stroke-opacity="0.15"/><text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    for k in range(6):
        t = chart.origin + span * k / 5
        parts.append(f'<text x="{x(t):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{span * k / 5:.0f} s</text>')
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" '
        f'text-anchor="middle">{escape(chart.unit)}</text>'
    )
    for t, label in chart.marks:
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="currentColor" '
            f'stroke-opacity="0.45" stroke-dasharray="2 3"><title>{escape(label)}</title></line>'
        )
    if chart.level is not None:
        value, label = chart.level
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#dc2626" '
            f'stroke-dasharray="6 4"><title>{escape(label)}</title></line>'
        )
    for line in chart.lines:
        if not line.points:
            continue
        coords = []
        for index, point in enumerate(line.points):
            if line.steps and index:
                coords.append(f"{x(point.t):.1f},{y(line.points[index - 1].value):.1f}")
            coords.append(f"{x(point.t):.1f},{y(point.value):.1f}")
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        parts.append(
            f'<polyline points="{" ".join(coords)}" fill="none" stroke="{line.colour}" stroke-width="1.6"{dash}>'
            f"<title>{escape(line.label)}</title></polyline>"
        )
    legend_x = float(LEFT)
    for line in chart.lines:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" fill="{line.colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 5}">{escape(line.label)}</text>'
        )
        legend_x += 24 + 6.5 * len(line.label)
    parts.append("</svg>")
    # Every text that comes from data (titles, labels, pod names) went through escape() above.
    return Markup("".join(parts))  # noqa: S704


def charts(report: AutoscalingReport) -> list[Markup]:
    """The four charts of a report: rates, latency, per-pod CPU, replicas; scale decisions marked on each."""
    origin, span = report.start, report.end - report.start
    marks = [(r.decision_at, f"scale to {r.to_replicas}") for r in report.reactions]
    marks += [(stage.starts_at, f"stage {stage.index}") for stage in report.stages[1:]]
    run, cluster = report.run_series, report.cluster
    target = report.target_cpu_percent
    built = [
        Chart(
            "Offered and achieved rate",
            "req/s",
            [Line("offered", run.offered_rps, PALETTE[0]), Line("achieved", run.achieved_rps, PALETTE[1])],
            origin,
            span,
            marks=marks,
        ),
        Chart(
            "Latency p50 and p99 (log scale)",
            "ms",
            [Line("p50", run.p50_ms, PALETTE[0]), Line("p99", run.p99_ms, PALETTE[2])],
            origin,
            span,
            log=True,
            marks=marks,
        ),
        Chart(
            "CPU per pod" + (" (% of request)" if cluster.average_cpu_percent else ""),
            "% of request" if cluster.average_cpu_percent else "cores",
            [Line(p.pod, p.points, PALETTE[i % len(PALETTE)]) for i, p in enumerate(cluster.pod_cpu)],
            origin,
            span,
            marks=marks,
            level=None if target is None else (target, f"HPA target {target:g} %"),
        ),
        Chart(
            "Replicas current and desired",
            "pods",
            [
                Line("current", cluster.replicas_current, PALETTE[0], steps=True),
                Line("desired", cluster.replicas_desired, PALETTE[4], dashed=True, steps=True),
            ],
            origin,
            span,
            marks=marks,
            counts=True,
        ),
    ]
    return [svg(chart) for chart in built]
