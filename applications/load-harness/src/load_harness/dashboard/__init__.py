"""The web dashboard under /ui: login, the CPU / Memory / Cluster Load tabs, live panels and runs.

Routes live in one module per feature; importing them here attaches them to `bp`."""

from __future__ import annotations

from load_harness.dashboard import auth, cluster, csrf, jobs, panels, runs_store, runs_views, views
from load_harness.dashboard.blueprint import bp

__all__ = ["auth", "bp", "cluster", "csrf", "jobs", "panels", "runs_store", "runs_views", "views"]
