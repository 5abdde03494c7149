"""A self-contained HTML report: static tables and an inline SVG chart. No scripts, no external resources."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:0 0 1.5rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:.3rem 0}
.fail{color:#b00;font-weight:700}.pass{color:#070}svg{border:1px solid #ddd;margin-bottom:1.5rem}
.note{color:#555;font-size:.9rem}
"""


def _table(caption: str, header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><caption>{escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _polyline(values: list[float], width: int, height: int, top: float, color: str) -> str:
    if not values:
        return ""
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - (v / top * height if top else 0):.1f}" for i, v in enumerate(values))
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'


def _chart(title: str, series: list[tuple[str, str, list[float]]], unit: str) -> str:
    """One SVG line chart; each series is (label, colour, values)."""
    width, height, pad = 900, 180, 40
    top = max((max(values) for _, _, values in series if values), default=0.0) or 1.0
    lines = "".join(_polyline(values, width, height, top, color) for _, color, values in series)
    legend = " ".join(f'<tspan fill="{color}">■ {escape(label)}</tspan>' for label, color, _ in series)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + pad * 2}" height="{height + pad * 2}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<text x="{pad}" y="20" font-size="13">{escape(title)} (max {top:,.1f} {unit}) {legend}</text>'
        f'<g transform="translate({pad},{pad})"><rect width="{width}" height="{height}" fill="#fafafa"/>{lines}</g>'
        f"</svg>"
    )


def render_html(summary: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> str:
    req, thr, lat = summary["requests"], summary["throughput"], summary["latency_ms"]
    started = dt.datetime.fromtimestamp(summary["started_at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    interval = summary["series"]["interval_s"]
    points = summary["series"]["points"]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>LoadHarness run {escape(str(summary['url']))}"
        f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>LoadHarness drive report</h1><p>{escape(summary['method'])} {escape(summary['url'])}, "
        f"{escape(summary['mode'])} loop, started {started}, {summary['duration_s']:.1f} s, "
        f"stop reason: {escape(str(summary['stop_reason']))}, shards: {summary['shards']}</p>",
    ]
    if summary.get("message"):
        parts.append(f"<p class='fail'>{escape(summary['message'])}</p>")
    rows = [
        ["sent", f"{req['sent']:,}"],
        ["completed", f"{req['completed']:,}"],
        ["errors", f"{req['errors']:,} ({req['error_rate_pct']:.2f}%)"],
        ["dropped", f"{req['dropped']:,} ({req['dropped_pct']:.2f}%)"],
        ["achieved rate", f"{thr['completed_rps']:,.1f} req/s"],
    ]
    if "target_rps" in thr:
        rows += [
            ["target rate", f"{thr['target_rps']:,.1f} req/s"],
            ["pacing error", f"{thr['pacing_error_pct']:+.2f}%"],
        ]
    parts.append(_table("Requests", ["metric", "value"], rows))
    keys = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean"]
    parts.append(
        _table(
            "Latency (ms)",
            ["", "response" + (" (corrected)" if lat["corrected"] else ""), "service"],
            [[k, f"{lat['response'][k]:.3f}", f"{lat['service'][k]:.3f}"] for k in keys],
        )
    )
    parts.append(f"<p class='note'>{escape(lat['note'])}</p>")
    if checks:
        parts.append(
            _table(
                "Thresholds",
                ["threshold", "actual", "result"],
                [
                    [escape(c["threshold"]), f"{c['actual']:g}", "<span class='pass'>pass</span>"]
                    if c["passed"]
                    else [escape(c["threshold"]), f"{c['actual']:g}", "<span class='fail'>FAIL</span>"]
                    for c in checks
                ],
            )
        )
    parts.append(
        _table("Status codes", ["code", "count"], [[escape(k), f"{v:,}"] for k, v in summary["status_codes"].items()])
    )
    errors = [[escape(k), f"{v:,}"] for k, v in summary["error_classes"].items()]
    errors += [[escape("  " + k), f"{v:,}"] for k, v in summary["error_details"].items()]
    parts.append(_table("Errors", ["class", "count"], errors))
    if summary["pods"]:
        parts.append(
            _table(
                "Pods (service time)",
                ["pod", "requests", "share", "errors", "p50 ms", "p99 ms"],
                [
                    [
                        escape(p["pod"]),
                        f"{p['count']:,}",
                        f"{p['share_pct']:.1f}%",
                        p["errors"],
                        p["p50_ms"],
                        p["p99_ms"],
                    ]
                    for p in summary["pods"]
                ],
            )
        )
    parts.append(
        _chart(
            f"Requests per second ({interval} s buckets)",
            [
                ("sent", "#1f77b4", [p[1] / interval for p in points]),
                ("completed", "#2ca02c", [p[2] / interval for p in points]),
                ("errors", "#d62728", [p[3] / interval for p in points]),
            ],
            "req/s",
        )
    )
    parts.append(
        _chart(
            "Latency per bucket",
            [("p50", "#1f77b4", [p[4] / 1000 for p in points]), ("p99", "#ff7f0e", [p[5] / 1000 for p in points])],
            "ms",
        )
    )
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: Path, summary: dict[str, Any], checks: list[dict[str, Any]] | None = None) -> None:
    path.write_text(render_html(summary, checks), encoding="utf-8")
