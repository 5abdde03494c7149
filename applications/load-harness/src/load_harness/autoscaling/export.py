"""The report as one self-contained HTML file: the charts inline as SVG, the CSS inline in one <style> element,
no script, nothing fetched. Its Content-Security-Policy allows exactly that style element, by its SHA-256 hash,
and nothing else: not 'unsafe-inline', not this origin (the file is meant to be opened anywhere)."""

from __future__ import annotations

import base64
import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path

from flask import render_template

from load_harness import __version__
from load_harness.autoscaling.model import AutoscalingReport
from load_harness.autoscaling.render import charts

CSS_PATH = Path(__file__).resolve().parent.parent / "static" / "autoscaling" / "export.css"


@functools.cache
def export_css() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


def style_hash(css: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")


def export_csp(css: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src '{style_hash(css)}'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def export_html(report: AutoscalingReport) -> tuple[str, str]:
    """(the HTML document, the Content-Security-Policy to serve it with)."""
    css = export_css()
    page = render_template(
        "autoscaling/export.html",
        report=report,
        charts=charts(report),
        css=css,
        version=__version__,
        window_text=f"{_utc(report.start)} to {_utc(report.end)}",
    )
    return page, export_csp(css)


def filename(report: AutoscalingReport) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in report.run_id)[:80]
    return f"autoscaling-{safe}.html"
