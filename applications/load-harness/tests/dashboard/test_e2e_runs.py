"""End-to-end for the Cluster Load tab and the runs pages, in Chromium, against the dashboard served in-process on
a real store. A run started from the form stays pending (no supervisor here); the test writes its shard's states
as the driver would (lh_support.seed_run). The journey with a real supervisor and driver is in test_e2e.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import BROWSER_TESTS, SHOTS, chromium_page, serving
from flask import Flask
from lh_support import seed_run, wait_for
from load_harness.context import KEY
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOrigin

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = BROWSER_TESTS


@pytest.fixture
def served(app: Flask, stored_runs: dict[str, str], form_bounds: None) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def page(served: str) -> Iterator[Any]:
    with chromium_page() as page:
        yield page


def shot(page: Any, name: str, tmp_path: Path) -> None:
    page.screenshot(path=tmp_path / name, full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / name).write_bytes((tmp_path / name).read_bytes())


def dark(page: Any, on: bool) -> None:
    if page.evaluate("document.documentElement.classList.contains('dark')") != on:
        page.locator("[data-theme-toggle]").click()


def test_cluster_run_fills_its_chart_and_can_be_stopped(page: Any, served: str, app: Flask, tmp_path: Path) -> None:
    page.goto(served + "/ui/?tab=cluster")
    form = page.locator("#cluster-form")
    expect(form).to_be_visible()
    expect(page.locator("#cluster-target-hint")).to_contain_text("rate 1–5000 req/s, or concurrency 1–200")
    page.locator("#cluster-target").fill("0")
    expect(page.locator("#cluster-target-error")).to_contain_text("must be between 1 and 5000")
    page.locator("#cluster-target").fill("50")
    expect(page.locator("#cluster-target-error")).to_have_text("")
    page.locator("#cluster-preset").select_option("step")
    expect(page.locator("#cluster-preview figcaption")).to_contain_text("12.5→25")
    page.locator("#cluster-url").fill("http://10.0.0.1/")
    expect(page.locator("#cluster-url-error")).to_contain_text("is not allowed")
    page.locator("#cluster-url").fill("")
    page.locator("#cluster-name").fill("e2e step run")
    page.locator("#cluster-p99_ms").fill("500")
    shot(page, "cluster-form-light.png", tmp_path)

    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#cluster-result")).to_contain_text("Started run")
    engine = app.extensions[KEY].engine
    [run] = run_store.list_runs(engine, source=RunOrigin.DASHBOARD)
    assert run.options.thresholds == ["p99<500ms"]
    expect(page.locator("#active-panel li[data-run-id]")).to_have_count(1)
    # Its shard starts and reports, a second at a time, as the driver does.
    seconds = [3]
    seed_run(app, [5000] * 60, run_id=run.id, seconds=seconds[0], finished=False)

    page.locator("#cluster-result a").click()
    chart = page.locator('[data-chart="time"]')
    expect(chart.locator(".uplot")).to_have_count(1)
    expect(page.locator(".uplot")).to_have_count(4)
    first = int(chart.get_attribute("data-points"))

    def gained() -> bool:
        seconds[0] += 1
        seed_run(app, [5000] * 20 * seconds[0], run_id=run.id, seconds=seconds[0], finished=False)
        return int(chart.get_attribute("data-points")) >= first + 2

    # The run is live: the page asks for data every second and the chart gains points (no eval: the CSP forbids it).
    assert wait_for(gained, timeout=60, interval=0.5)
    shot(page, "run-detail-light.png", tmp_path)

    page.goto(served + "/ui/")
    page.locator("#active-panel button[id^='stop-run_']").click()
    expect(page.locator("#active-panel")).to_contain_text("Stopping run")
    assert run_store.stop_requested(engine, run.id)


def test_history_filter_and_compare(page: Any, served: str, stored_runs: dict[str, str], tmp_path: Path) -> None:
    page.goto(served + "/ui/runs")
    expect(page.locator("tr[data-run-id]")).to_have_count(2)
    page.get_by_label("Search name or URL").fill("tuning")
    expect(page.locator("tr[data-run-id]")).to_have_count(1)
    page.get_by_label("Search name or URL").fill("")
    expect(page.locator("tr[data-run-id]")).to_have_count(2)
    for dark_mode in (False, True):
        dark(page, dark_mode)
        suffix = "dark" if dark_mode else "light"
        page.goto(served + "/ui/runs")
        shot(page, f"runs-history-{suffix}.png", tmp_path)
        page.get_by_label("Compare baseline").check()
        page.get_by_label("Compare after tuning").check()
        page.get_by_role("button", name="Compare the two selected runs").click()
        expect(page.locator(".uplot")).to_have_count(4)
        shot(page, f"runs-compare-{suffix}.png", tmp_path)
        page.goto(served + f"/ui/runs/{stored_runs['baseline']}")
        expect(page.locator(".uplot")).to_have_count(4)
        shot(page, f"run-detail-{suffix}.png", tmp_path)
