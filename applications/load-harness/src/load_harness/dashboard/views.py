"""The main page and its tabs, plus what every dashboard template can use (asset URLs, auth state)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from flask import current_app, render_template, request, url_for

from load_harness.context import ctx
from load_harness.dashboard import cluster, jobs, panels
from load_harness.dashboard.blueprint import bp

TABS = {"cpu": "CPU", "memory": "Memory", "cluster": "Cluster Load"}


@functools.lru_cache(maxsize=64)
def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def asset(filename: str) -> str:
    """A static URL with a content hash, so browsers may cache assets for long and still see new versions."""
    static = current_app.static_folder or ""
    try:
        version = _digest(str(Path(static) / filename))
    except OSError:
        version = "missing"
    return url_for("static", filename=filename, v=version)


@bp.context_processor
def _globals() -> dict[str, Any]:
    settings = ctx().settings
    return {
        "asset": asset,
        "auth_enabled": bool(settings.api_key),
        "pod_name": settings.pod_name,
        "environment": settings.environment,
        "local_mode": settings.local_mode,
        "tabs": TABS,
    }


def tab_context(tab: str) -> dict[str, Any]:
    if tab == "cluster":
        return {"tab": tab, **cluster.tab_context()}
    return {"tab": tab, "values": jobs.form_defaults(tab), "errors": {}, **jobs.bounds()}


def _tab_arg() -> str:
    tab = request.args.get("tab", "cpu")
    return tab if tab in TABS else "cpu"


@bp.get("/")
def index() -> str:
    tab = _tab_arg()
    context = {**tab_context(tab), **jobs.active_context(), **panels.metrics_context(), **panels.pods_context()}
    return render_template("dashboard/index.html", **context)


@bp.get("/tabs/<any(cpu, memory, cluster):tab>")
def tab_partial(tab: str) -> str:
    return render_template("dashboard/layout/tabs.html", **tab_context(tab))
