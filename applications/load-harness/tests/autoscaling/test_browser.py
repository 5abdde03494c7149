"""The run detail page shows the autoscaling report, in Chromium, without a CSP violation or script error
(chromium_page fails the test on any). Writes docs/screenshots/autoscaling-report.png with UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from autoscaling.recorded import RecordedTimeline, Recording, store_recorded_run, use_timeline
from browser_support import BROWSER_TESTS, SHOTS, chromium_page, serving
from flask import Flask

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = BROWSER_TESTS
SHOT = "autoscaling-report.png"


@pytest.fixture
def served(app: Flask, recording: Recording) -> Iterator[tuple[str, str]]:
    use_timeline(app, RecordedTimeline(recording.timeline))
    run_id = store_recorded_run(app, recording.run)
    with serving(app) as url:
        yield url, run_id


def test_run_detail_page_shows_the_autoscaling_report(served: tuple[str, str], tmp_path: Path) -> None:
    url, run_id = served
    page: Any
    with chromium_page() as page:
        page.goto(f"{url}/ui/runs/{run_id}")
        section = page.locator("#autoscaling")
        expect(section).to_be_visible()
        expect(section.locator("svg")).to_have_count(4)
        rows = section.locator("[data-autoscaling-reactions] tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("1 → 2")
        expect(rows.nth(1)).to_contain_text("2 → 4")
        expect(rows.nth(1).locator("td").nth(6)).to_have_text("50 s")
        expect(section.locator("[data-autoscaling-stages] tbody tr").nth(1).locator("td").nth(3)).to_have_text("20 s")
        expect(section.locator("[data-autoscaling-cost]")).to_contain_text("283.2")
        expect(section.get_by_role("link", name="HTML report")).to_have_attribute(
            "href", f"/runs/{run_id}/autoscaling.html"
        )
        # The page's own charts still draw beside it (uPlot from the vendored file).
        expect(page.locator('[data-chart="time"] .uplot')).to_have_count(1)
        section.scroll_into_view_if_needed()
        section.screenshot(path=tmp_path / SHOT)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / SHOT).write_bytes((tmp_path / SHOT).read_bytes())
