"""Repository-wide pytest hooks.

In CI (`.ci/run` sets REQUIRE_REAL_SERVERS=1) a test that skips because a real server or tool is missing is a
failure: CI installs PostgreSQL, Prometheus, nginx, Chromium and the rest, so a skip there means a check silently
stopped running. Skips whose cause is the kernel, not the packages (a cgroup the machine will not delegate), stay
skips; they say why in the report.
"""

from __future__ import annotations

import os

import pytest

# Skip reasons that no package install can fix.
KERNEL_REASONS = ("cannot create a CPU-limited cgroup",)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("REQUIRE_REAL_SERVERS") != "1":
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(text in reason for text in KERNEL_REASONS) or "xfail" in report.keywords:
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where every real server must run: {reason}"
