"""End-to-end for the Cluster Load tab and the runs pages, in Chromium, against the dashboard served in-process on
a real store. A run started from the form stays pending (no supervisor here); the test writes its shard's states
as the driver would (lh_support.seed_run). The journey with a real supervisor and driver is in test_e2e.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lh_support import seed_run, wait_for
from load_harness.context import KEY
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOrigin
from werkzeug.serving import make_server

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
# Deadlines, not expectations: a browser on a busy 2-core machine can take seconds for what takes 50 ms alone.
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[4] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)"),
]


@pytest.fixture
def served(app: Flask, stored_runs: dict[str, str], form_bounds: None) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(served: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert not errors, errors


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
