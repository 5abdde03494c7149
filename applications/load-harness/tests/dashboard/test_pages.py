"""Every dashboard page and partial renders, carries the security headers, and needs no inline script or style."""

from __future__ import annotations

import re
from typing import Any

import pytest

PAGES = [
    "/ui/",
    "/ui/?tab=cpu",
    "/ui/?tab=memory",
    "/ui/?tab=cluster",
    "/ui/runs",
    "/ui/logout",
]
PARTIALS = [
    "/ui/tabs/cpu",
    "/ui/tabs/memory",
    "/ui/tabs/cluster",
    "/ui/partials/active",
    "/ui/partials/metrics",
    "/ui/partials/metrics?scope=pod",
    "/ui/partials/metrics?scope=cluster",
    "/ui/partials/pods",
    "/ui/partials/pods?scope=cluster",
    "/ui/runs/partials/list",
]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)


def assert_csp_clean(html: str) -> None:
    # The CSP has no 'unsafe-inline': any of these would be blocked by the browser.
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not STYLE_ATTR.search(html), STYLE_ATTR.search(html)
    assert not HANDLER_ATTR.search(html), HANDLER_ATTR.search(html)
    assert "<style" not in html.lower()


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_as_full_documents(ui: Any, path: str) -> None:
    response = ui.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith("<!doctype html>")
    assert '<meta name="csrf-token"' in html
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert_csp_clean(html)


@pytest.mark.parametrize("path", PAGES)
def test_pages_with_stored_runs_render(ui: Any, stored_runs: dict[str, str], path: str) -> None:
    response = ui.get(path)
    assert response.status_code == 200
    assert_csp_clean(response.get_data(as_text=True))


@pytest.mark.parametrize("path", PARTIALS)
def test_partials_render_as_fragments(ui: Any, path: str) -> None:
    response = ui.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert_csp_clean(html)


def test_run_pages_render(ui: Any, stored_runs: dict[str, str]) -> None:
    run_a, run_b = stored_runs["baseline"], stored_runs["after tuning"]
    paths = (f"/ui/runs/{run_a}", f"/ui/runs/compare?a={run_a}&b={run_b}", f"/ui/runs/compare?run={run_a}&run={run_b}")
    for path in paths:
        response = ui.get(path)
        assert response.status_code == 200, path
        assert_csp_clean(response.get_data(as_text=True))
    assert ui.get(f"/ui/runs/{run_a}/data.json").is_json


def test_static_assets_are_served_with_versions(ui: Any) -> None:
    html = ui.get("/ui/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("htmx.min.js" in u for u in urls)
    assert all("?v=" in u for u in urls)
    for url in urls:
        assert ui.get(url).status_code == 200, url


def test_htmx_config_disables_inline_styles_and_eval(ui: Any) -> None:
    html = ui.get("/ui/").get_data(as_text=True)
    assert '"includeIndicatorStyles":false' in html
    assert '"allowEval":false' in html


def test_tabs_mark_the_current_one(ui: Any) -> None:
    html = ui.get("/ui/tabs/memory").get_data(as_text=True)
    assert re.search(r'href="/ui/\?tab=memory"\s+aria-current="page"', html)
    assert 'id="memory-form"' in html


def test_unknown_tab_falls_back_to_cpu(ui: Any) -> None:
    html = ui.get("/ui/?tab=nope").get_data(as_text=True)
    assert 'id="cpu-form"' in html
