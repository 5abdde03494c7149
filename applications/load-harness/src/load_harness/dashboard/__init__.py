"""The web dashboard under /ui: login, the CPU / Memory / Cluster Load tabs, live panels and runs.

Routes live in one module per feature; importing them here attaches them to `bp`."""

from __future__ import annotations

from load_harness.dashboard import cluster, csrf, jobs, login, panels, runs_views, views
from load_harness.dashboard.blueprint import bp

__all__ = ["bp", "cluster", "csrf", "jobs", "login", "panels", "runs_views", "views"]
