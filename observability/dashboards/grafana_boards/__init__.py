"""The LoadHarness Grafana dashboards as code (grafana-foundation-sdk); `build.py` beside this package writes them."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models.dashboard import Dashboard

from grafana_boards import cost, dora, overview, runs

# File name (without .json) → the function that builds that dashboard.
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "load-harness-overview": overview.build,
    "load-harness-runs": runs.build,
    "dora": dora.build,
    "platform-cost": cost.build,
}
