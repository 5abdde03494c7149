"""The latency histogram in Chromium: runs whose latencies are known, reported by the driver's own records into the
store and binned by the real code (shard states' HDR histograms → runs_data.latency_buckets → data.json), and the
bars the page drew read back from the chart (its data-bins attribute: each bar's edges, count and pixel span,
written after every draw)."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import BROWSER_TESTS, chromium_page, serving
from flask import Flask
from lh_support import seed_run, wait_for
from load_harness.dashboard import runs_data
from load_harness.driver import histo

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = BROWSER_TESTS

EDGES_MS = {e / 1000 for e in histo.BIN_EDGES_US}


def latencies_us(bulk_us: int, tail_us: int) -> list[int]:
    """600 responses within ±100 µs of `bulk_us` and 40 within ±100 µs of `tail_us`."""
    return [bulk_us - 100 + i % 200 for i in range(600)] + [tail_us - 100 + 5 * i for i in range(40)]


def latencies(bulk_us: int, tail_us: int) -> list[tuple[float, float, int]]:
    """Those latencies binned as the pages bin them, straight from one HDR histogram."""
    hist = histo.new_histogram()
    for value in latencies_us(bulk_us, tail_us):
        hist.record_value(value)
    return runs_data.latency_buckets([histo.encode(hist)])


def known_run(app: Flask, name: str, bulk_us: int, tail_us: int, finished: bool = True) -> str:
    """A run in the store with those latencies, 640 requests in all, as its one shard reported them."""
    return seed_run(app, latencies_us(bulk_us, tail_us), name=name, finished=finished)


@pytest.fixture
def source(app: Flask) -> dict[str, str]:
    """Run name → run id."""
    return {"fast": known_run(app, "fast", 5800, 8500), "slow": known_run(app, "slow", 12_000, 30_000)}


@pytest.fixture
def served(app: Flask, source: dict[str, str]) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def page(served: str) -> Iterator[Any]:
    with chromium_page() as page:
        yield page


def drawn(page: Any, chart: str) -> dict[str, Any]:
    """What the chart drew, once it has drawn bars (the attribute appears with the first draw)."""
    element = page.locator(f'[data-chart="{chart}"]')
    expect(element).to_have_attribute("data-bins", re.compile(r'"bars":\[\{'))
    return dict(json.loads(element.get_attribute("data-bins")))


def bins_of(app: Flask, run_id: str) -> list[tuple[float, float, int]]:
    hist = app.test_client().get(f"/ui/runs/{run_id}/data.json").get_json()["histogram"]
    return list(zip(hist["low_ms"], hist["high_ms"], hist["count"], strict=True))


def check_bars(chart: dict[str, Any], label: str, served_bins: list[tuple[float, float, int]]) -> list[Any]:
    """Each bar is drawn over its own [low, high) range: its pixels are where the log x axis puts its edges."""
    [series] = [s for s in chart["series"] if s["label"] == label]
    bars = series["bars"]
    # Exactly the non-empty bins the server sent, with the server's edges.
    assert [(b["low_ms"], b["high_ms"], b["count"]) for b in bars] == [b for b in served_bins if b[2]]
    lo, hi, width = math.log10(chart["x_min_ms"]), math.log10(chart["x_max_ms"]), chart["width_px"]

    def px(ms: float) -> float:
        return (math.log10(ms) - lo) / (hi - lo) * width

    for bar in bars:
        assert bar["low_ms"] in EDGES_MS  # the fixed edges
        assert bar["high_ms"] in EDGES_MS
        assert bar["high_ms"] / bar["low_ms"] <= 10**0.1  # at least ten bins per decade
        assert bar["left_px"] == pytest.approx(px(bar["low_ms"]), abs=0.5), bar
        assert bar["right_px"] == pytest.approx(px(bar["high_ms"]), abs=0.5), bar
        assert 0 <= bar["left_px"] < bar["right_px"] <= width  # wholly in view
    # The bins between the two clusters are there, empty (served, drawn as nothing): contiguous edges.
    assert all(a[1] == b[0] for a, b in itertools.pairwise(served_bins))
    return list(bars)


def bar_holding(bars: list[Any], ms: float) -> Any:
    [bar] = [b for b in bars if b["low_ms"] <= ms < b["high_ms"]]
    return bar


def test_run_page_draws_each_bin_over_its_own_range(page: Any, served: str, app: Flask, source: dict[str, str]) -> None:
    fast = source["fast"]
    assert bins_of(app, fast) == latencies(5800, 8500)  # the store's bins are those of the latencies reported
    page.goto(served + f"/ui/runs/{fast}")
    chart = drawn(page, "histogram")
    bars = check_bars(chart, "requests", bins_of(app, fast))
    assert sum(b["count"] for b in bars) == 640
    assert bar_holding(bars, 5.8)["count"] == 600  # not in a bar from 10 to 20 ms
    assert bar_holding(bars, 8.5)["count"] == 40
    assert all(b["high_ms"] < 10 for b in bars)
    assert page.locator('[data-chart="histogram"]').get_attribute("data-points") == str(len(bins_of(app, fast)))
    # The other theme rebuilds every chart from its options and data: the bars come back the same.
    before = page.locator('[data-chart="histogram"] .uplot').element_handle()
    page.locator("[data-theme-toggle]").click()
    before.wait_for_element_state("hidden")  # detached: replaced by the redrawn chart
    assert check_bars(drawn(page, "histogram"), "requests", bins_of(app, fast)) == bars


def test_compare_page_draws_both_runs_on_shared_bins(
    page: Any, served: str, app: Flask, source: dict[str, str]
) -> None:
    page.goto(served + f"/ui/runs/compare?a={source['fast']}&b={source['slow']}")
    chart = drawn(page, "histogram-both")
    a = check_bars(chart, "A", bins_of(app, source["fast"]))
    b = check_bars(chart, "B", bins_of(app, source["slow"]))
    assert bar_holding(a, 5.8)["count"] == 600
    assert bar_holding(a, 8.5)["count"] == 40
    assert bar_holding(b, 12.0)["count"] == 600
    assert bar_holding(b, 30.0)["count"] == 40
    assert not [x for x in a if x["low_ms"] >= 10]
    assert not [x for x in b if x["high_ms"] <= 10]
    # One x axis for both: the union of the two runs' bins, each low edge with one high edge.
    spans = {(x["low_ms"], x["high_ms"]) for x in a + b}
    assert len({low for low, _ in spans}) == len(spans)


def test_live_run_page_redraws_the_histogram(page: Any, served: str, app: Flask) -> None:
    live = known_run(app, "live", 5800, 8500, finished=False)
    page.goto(served + f"/ui/runs/{live}")
    bars = check_bars(drawn(page, "histogram"), "requests", bins_of(app, live))
    assert bar_holding(bars, 5.8)["count"] == 600
    # Its shard reports again (a state is cumulative: this one replaces the last), with slower responses.
    seed_run(app, latencies_us(12_000, 30_000), run_id=live, finished=False)
    later = latencies(12_000, 30_000)
    assert bins_of(app, live) == later
    element = page.locator('[data-chart="histogram"]')

    def redrawn() -> bool:
        # The page asks for data every second: wait until it has drawn the new bins.
        chart = json.loads(element.get_attribute("data-bins") or "{}")
        return any(b["low_ms"] <= 12.0 < b["high_ms"] for s in chart.get("series", []) for b in s["bars"])

    assert wait_for(redrawn, timeout=60, interval=0.1)
    bars = check_bars(drawn(page, "histogram"), "requests", later)
    assert bar_holding(bars, 12.0)["count"] == 600
    assert not [b for b in bars if b["high_ms"] <= 10]
