"""End-to-end: Debian's headless Chromium, driven by Python Playwright, against a real `load-harness serve`.

The browser is never downloaded: its path is a setting (CHROMIUM_PATH, default /usr/bin/chromium) and the tests
skip, saying why, only when that binary is missing. Screenshots go to a temporary folder; with
UPDATE_SCREENSHOTS=1 they are also copied to docs/screenshots/ (which the README shows)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARGS, BROWSER_TESTS, CHROMIUM, SHOTS, TIMEOUT_MS, watch_errors
from lh_support import RunningServer, start_server, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")

KEY = "e2e-secret-key"
pytestmark = BROWSER_TESTS
playwright_api.expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("e2e"), pod="e2e-pod", extra_env={"API_KEY": KEY})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy2(png, SHOTS / png.name)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = errors = watch_errors(page)  # a CSP violation or a script error fails the test
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def login(page: Any, server: RunningServer) -> None:
    page.goto(server.url + "/ui/")
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/ui/")


def set_theme(page: Any, dark: bool) -> None:
    if page.evaluate("document.documentElement.classList.contains('dark')") != dark:
        page.locator("[data-theme-toggle]").click()


def test_login_start_stop_and_dark_mode(page: Any, server: RunningServer, shots: Path) -> None:
    page.goto(server.url + "/ui/login")
    page.screenshot(path=shots / "login-light.png")
    login(page, server)

    # Validation as the user types shows the server's message next to the field.
    page.locator("#cpu-utilization").fill("0")
    playwright_api.expect(page.locator("#cpu-utilization-error")).to_contain_text("greater than or equal to 1")
    playwright_api.expect(page.locator("#cpu-utilization")).to_have_attribute("aria-invalid", "true")
    page.locator("#cpu-utilization").fill("20")
    playwright_api.expect(page.locator("#cpu-utilization-error")).to_have_text("")

    page.locator("#cpu-duration_seconds").fill("120")
    page.get_by_role("button", name="Start CPU job").click()
    playwright_api.expect(page.locator("#cpu-result")).to_contain_text("Started job_")
    entry = page.locator("#active-panel li[data-job-id]").first
    playwright_api.expect(entry).to_be_visible()
    job_id = entry.get_attribute("data-job-id")
    playwright_api.expect(entry.locator("time[data-expires-at]")).to_contain_text("left")
    # Rates need two samples: the screenshot waits until the panel shows them.
    playwright_api.expect(page.locator("#metrics-panel")).not_to_contain_text("measuring")
    page.screenshot(path=shots / "dashboard-light.png", full_page=True)

    page.get_by_role("button", name=f"Stop cpu job {job_id}").click()
    playwright_api.expect(page.locator(f'#active-panel li[data-job-id="{job_id}"]')).to_have_count(0)
    playwright_api.expect(page.locator("#active-panel")).to_contain_text("stopped")

    set_theme(page, dark=True)
    page.reload()
    assert page.evaluate("document.documentElement.classList.contains('dark')")
    assert page.locator("[data-theme-toggle]").get_attribute("aria-pressed") == "true"
    page.screenshot(path=shots / "dashboard-dark.png", full_page=True)
    set_theme(page, dark=False)
    page.reload()
    assert not page.evaluate("document.documentElement.classList.contains('dark')")


def test_tabs_metrics_and_small_screens(page: Any, server: RunningServer, shots: Path) -> None:
    login(page, server)
    for dark in (False, True):
        set_theme(page, dark)
        suffix = "dark" if dark else "light"
        page.get_by_role("link", name="Memory", exact=True).click()
        playwright_api.expect(page.locator("#memory-form")).to_be_visible()
        assert page.url.endswith("/ui/?tab=memory")
        page.screenshot(path=shots / f"memory-{suffix}.png", full_page=True)
        page.get_by_role("link", name="Cluster Load").click()
        playwright_api.expect(page.locator("#load-tabs")).to_contain_text("Cluster Load")
        page.screenshot(path=shots / f"cluster-{suffix}.png", full_page=True)
        page.goto(server.url + "/ui/runs")
        page.screenshot(path=shots / f"runs-{suffix}.png", full_page=True)
        page.goto(server.url + "/ui/")
    set_theme(page, False)

    page.get_by_role("link", name="Cluster", exact=True).click()
    playwright_api.expect(page.locator("#metrics-panel")).to_contain_text("No cluster metrics source is configured")

    page.set_viewport_size({"width": 360, "height": 780})
    page.reload()
    # Nothing is wider than the screen at 360 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=shots / "dashboard-mobile-light.png", full_page=True)


def test_keyboard_reaches_the_form_and_focus_is_visible(page: Any, server: RunningServer) -> None:
    login(page, server)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def start_run(page: Any, server: RunningServer, name: str, seconds: int) -> str:
    page.goto(server.url + "/ui/?tab=cluster")
    page.locator("#cluster-target").fill("20")
    page.locator("#cluster-preset").select_option("constant")
    page.locator("#cluster-duration_s").fill(str(seconds))
    page.locator("#cluster-work_amount").fill("1")
    page.locator("#cluster-p99_ms").fill("1000")
    page.locator("#cluster-name").fill(name)
    page.get_by_role("button", name="Start run").click()
    link = page.locator("#cluster-result a")
    playwright_api.expect(link).to_contain_text(name)
    return str(link.get_attribute("href"))


def require_working_driver(server: RunningServer) -> None:
    """Skip, saying why, when this build's driver cannot complete a one-second run launched by the server."""
    headers = {"X-API-Key": KEY}
    started = server.post("/runs", json={"rate": 5, "duration_seconds": 1, "cpu_ms": 1}, headers=headers)
    if started.status_code != 202:
        pytest.skip(f"POST /runs answered {started.status_code}: {started.text[:200]}")
    run_id = started.json()["run_id"]
    view: dict[str, Any] = {}

    def finished() -> bool:
        view.update(server.get(f"/runs/{run_id}", headers=headers).json())
        return view["status"] not in ("pending", "running")

    wait_for(finished, timeout=60)
    if view.get("status") != "completed":
        pytest.skip(
            f"the driver cannot run a run launched by the server yet (status {view.get('status')!r}, "
            f"error {view.get('error')!r}); the Cluster Load journey needs `load-harness drive --run-id` to work"
        )


def test_cluster_load_run_fills_its_chart_then_detail_and_compare(
    page: Any, server: RunningServer, shots: Path
) -> None:
    require_working_driver(server)
    login(page, server)
    first = start_run(page, server, "e2e first", 3)
    playwright_api.expect(page.locator("#active-panel li[data-run-id]").first).to_be_visible()
    second = start_run(page, server, "e2e second", 6)
    page.goto(server.url + second)
    chart = page.locator('[data-chart="time"]')
    playwright_api.expect(chart.locator(".uplot")).to_have_count(1)
    # The run is live: each second the page fetches its data again and the chart gains points.
    seen = []

    def grown() -> bool:
        seen.append(int(chart.get_attribute("data-points") or 0))
        return seen[-1] >= 3

    assert wait_for(grown, timeout=60, interval=0.1), seen
    playwright_api.expect(page.locator("#run-status")).to_contain_text("completed")
    page.reload()
    playwright_api.expect(page.locator(".uplot")).to_have_count(4)
    playwright_api.expect(page.locator('[data-stat="requests"]')).not_to_have_text("0")
    playwright_api.expect(page.locator("text=p99<1000ms")).to_be_visible()
    page.screenshot(path=shots / "run-live-detail-light.png", full_page=True)

    page.goto(server.url + "/ui/runs?q=e2e")
    playwright_api.expect(page.locator("tr[data-run-id]")).to_have_count(2)
    page.get_by_label("Compare e2e first").check()
    page.get_by_label("Compare e2e second").check()
    page.get_by_role("button", name="Compare the two selected runs").click()
    playwright_api.expect(page.locator("#compare-title")).to_be_visible()
    playwright_api.expect(page.locator(".uplot")).to_have_count(4)
    assert first.rsplit("/", 1)[-1] in page.content()


def test_api_docs_render_under_the_csp(page: Any, server: RunningServer) -> None:
    """Swagger UI is vendored and starts from a file, so it renders with no CSP violation or failed request."""
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(server.url + "/apidocs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20
    assert not failed
