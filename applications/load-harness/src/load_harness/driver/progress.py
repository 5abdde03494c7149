"""Terminal output: the live line on stderr while a run goes, and the summary tables at the end.

The live view is refreshed by the run loop once a second (auto_refresh off): rich's refresh thread would compete
with the event loop for the GIL and disturb pacing.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from load_harness.driver.runner import LiveStats
from load_harness.driver.state import LATENCY_STATS, Summary
from load_harness.driver.thresholds import ThresholdResult


def _ms(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us < 1_000_000 else f"{us / 1_000_000:.2f} s"


class LiveView:
    """Context manager: `update(stats)` once a second redraws one compact table on stderr."""

    def __init__(self, title: str, console: Console | None = None) -> None:
        self.title = title
        self.console = console or Console(stderr=True)
        self._live = Live(Text(f"{title}: starting…"), console=self.console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, stats: LiveStats) -> None:
        total = f"{stats.duration_s:.0f}s" if stats.duration_s is not None else "∞"
        error_pct = stats.errors / stats.completed * 100 if stats.completed else 0.0
        line1 = f"{self.title} · {stats.elapsed_s:.0f}s / {total} · target {stats.target:g}"
        line2 = (
            f"sent {stats.sent:,} ({stats.sent_rate:,.0f}/s) · done {stats.completed:,} ({stats.completed_rate:,.0f}/s)"
            f" · p50 {_ms(stats.p50_us)} · p99 {_ms(stats.p99_us)} · errors {stats.errors:,} ({error_pct:.2f}%)"
            f" · dropped {stats.dropped:,} · in flight {stats.in_flight:,}"
        )
        self._live.update(Text(f"{line1}\n{line2}"), refresh=True)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def render_summary(summary: Summary, checks: list[ThresholdResult] | None = None) -> Group:
    """The end-of-run tables: requests, latency percentiles, status codes, error classes, pods, thresholds."""
    parts: list[RenderableType] = []
    req, thr = summary.requests, summary.throughput
    open_loop = summary.mode == "open"
    mode = "open loop (rate)" if open_loop else "closed loop (concurrency)"
    head = f"{summary.method} {summary.url} — {mode}, {summary.duration_s:.1f} s, {summary.stop_reason}"
    if summary.shards > 1:
        head += f", {summary.shards} shards"
    parts.append(Text(head, style="bold"))
    if summary.message:
        parts.append(Text(summary.message, style="yellow"))
    if req.dropped_late:
        parts.append(
            Text(
                f"The driver fell behind its schedule: {req.dropped_late:,} arrivals dropped as late. "
                "Its own CPU is the limit here: use --shards N or a bigger machine.",
                style="yellow",
            )
        )
    t = _table("Requests", "metric", "value")
    t.add_row("sent", f"{req.sent:,}")
    t.add_row("completed", f"{req.completed:,}")
    t.add_row("errors", f"{req.errors:,} ({req.error_rate_pct:.2f}%)")
    if open_loop:
        t.add_row("dropped (late / in-flight cap)", f"{req.dropped_late:,} / {req.dropped_max_in_flight:,}")
        t.add_row("sent > 10 ms late", f"{req.sent_late:,}")
        t.add_row("target rate", f"{thr.target_rps or 0:,.1f} req/s")
        t.add_row("pacing error", f"{thr.pacing_error_pct or 0:+.2f}%")
    t.add_row("sent rate", f"{thr.sent_rps:,.1f} req/s")
    t.add_row("achieved rate", f"{thr.completed_rps:,.1f} req/s")
    parts.append(t)
    latency = summary.latency_ms
    if open_loop:
        lat = _table("Latency (ms)", "", "response (corrected)", "service")
        for key in LATENCY_STATS:
            lat.add_row(key, f"{latency.response.value(key):.3f}", f"{latency.service.value(key):.3f}")
    else:
        lat = _table("Latency (ms, service time)", "", "service")
        for key in LATENCY_STATS:
            lat.add_row(key, f"{latency.service.value(key):.3f}")
    parts.append(lat)
    if summary.status_codes:
        codes = _table("Status codes", "code", "count")
        for code, count in summary.status_codes.items():
            codes.add_row(code, f"{count:,}")
        parts.append(codes)
    if req.errors:
        errors = _table("Errors", "class", "count")
        for name, count in summary.error_classes.items():
            if count:
                errors.add_row(name, f"{count:,}")
        for name, count in summary.error_details.items():
            errors.add_row(f"  {name}", f"{count:,}")
        parts.append(errors)
    if summary.pods:
        pods = _table("Pods (service time)", "pod", "requests", "share", "errors", "p50 ms", "p99 ms")
        for pod in summary.pods:
            pods.add_row(
                pod.pod,
                f"{pod.count:,}",
                f"{pod.share_pct:.1f}%",
                f"{pod.errors:,}",
                f"{pod.p50_ms:.3f}",
                f"{pod.p99_ms:.3f}",
            )
        parts.append(pods)
    if checks:
        table = _table("Thresholds", "threshold", "actual", "result")
        for check in checks:
            result = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
            table.add_row(check.threshold, f"{check.actual:g}", result)
        parts.append(table)
    return Group(*parts)
