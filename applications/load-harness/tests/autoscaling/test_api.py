"""GET /runs/{id}/autoscaling and /runs/{id}/autoscaling.html on a real store: a run recorded as its shard reports
it, and the recorded cluster timeline injected as the app's timeline source (the app's own Providers)."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

import pytest
from autoscaling.recorded import RecordedTimeline, Recording, store_recorded_run, use_timeline
from flask import Flask
from flask.testing import FlaskClient

T0 = 1_700_000_000


@pytest.fixture
def source(app: Flask, recording: Recording) -> RecordedTimeline:
    replay = RecordedTimeline(recording.timeline)
    use_timeline(app, replay)
    return replay


@pytest.fixture
def run_id(app: Flask, recording: Recording) -> str:
    return store_recorded_run(app, recording.run)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_report_json_of_a_stored_run(client: FlaskClient, run_id: str, source: RecordedTimeline) -> None:
    answer = client.get(f"/runs/{run_id}/autoscaling")
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    # The source was asked for the run's send window, at 1 s steps (a 300 s run stays under 720 points).
    assert source.asked == [(T0, T0 + 300, 1.0)]
    assert report["run_id"] == run_id
    assert report["timeline_source"] == "recorded: Prometheus + Kubernetes API"
    reactions = [
        (r["to_replicas"], r["above_to_decision_s"], r["decision_to_ready_s"], r["above_to_ready_s"])
        for r in report["reactions"]
    ]
    assert reactions == [(2, 10, 25, 35), (4, 20, 30, 50)]
    assert [s["steady_state_after_s"] for s in report["stages"]] == [None, 20]
    # The store's series is what the driver recorded: 29,106 sent, 856 timed out.
    assert report["cost"]["requests_ok"] == 28_250
    assert report["cost"]["cpu_seconds"] == pytest.approx(283.2)
    assert report["cost"]["gb_hours_reserved"] is None  # POD_MEMORY_REQUEST_MB is unset
    assert report["cost"]["cost_usd"] == pytest.approx(
        0.5 * 1047 / 3600 * 0.031 / (2 * 0.031611 / 0.004237 + 8) * 0.031611 / 0.004237
    )


def test_prices_from_the_query(client: FlaskClient, run_id: str, source: RecordedTimeline) -> None:
    answer = client.get(f"/runs/{run_id}/autoscaling?vcpu_hour_usd=0.04&gb_hour_usd=0.005&pod_memory_mb=1024")
    cost = answer.get_json()["cost"]
    assert (cost["prices"]["vcpu_hour_usd"], cost["prices"]["pod_memory_gb"]) == (0.04, 1.0)
    reserved = 1047 / 3600  # pod-hours; each pod 0.5 cores and 1 GiB
    assert cost["cost_usd"] == pytest.approx(reserved * 0.5 * 0.04 + reserved * 1.0 * 0.005)
    assert cost["cost_per_1000_requests_usd"] == pytest.approx(cost["cost_usd"] / 28_250 * 1000)


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("vcpu_hour_usd=-1", "vcpu_hour_usd", "-1"),
        ("step_seconds=0.5", "step_seconds", "0.5"),
        ("colour=red", "colour", "red"),
    ],
)
def test_bad_query_names_the_field(client: FlaskClient, run_id: str, query: str, field: str, value: str) -> None:
    for path in (f"/runs/{run_id}/autoscaling", f"/runs/{run_id}/autoscaling.html"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 422
        assert answer.mimetype == "application/problem+json"
        [error] = answer.get_json()["errors"]
        assert (error["field"], error["value"]) == (field, value)


def test_bad_query_states_the_limit(client: FlaskClient, run_id: str) -> None:
    [error] = client.get(f"/runs/{run_id}/autoscaling?gb_hour_usd=1000").get_json()["errors"]
    assert error["limit"] == {"le": 100.0}


def test_unknown_run_is_a_404_problem(client: FlaskClient) -> None:
    for path in ("/runs/no-such-run/autoscaling", "/runs/no-such-run/autoscaling.html"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["status"] == 404


def test_without_a_timeline_source_the_report_says_so(app: Flask, client: FlaskClient, run_id: str) -> None:
    use_timeline(app, None)
    report = client.get(f"/runs/{run_id}/autoscaling").get_json()
    assert "no cluster timeline source is configured" in report["missing"][0]
    assert report["reactions"] == []
    assert len(report["run_series"]["achieved_rps"]) == 300
    assert [s["steady_state_after_s"] for s in report["stages"]] == [0, 20]


class Resources(HTMLParser):
    """Every element and every attribute that could fetch something, and the text of each <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "srcset", "action", "data")]

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def test_html_export_is_self_contained(client: FlaskClient, run_id: str, source: RecordedTimeline) -> None:
    answer = client.get(f"/runs/{run_id}/autoscaling.html")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="autoscaling-{run_id}.html"'
    page = Resources()
    page.feed(answer.get_data(as_text=True))
    assert all(url.startswith("data:") for url in page.urls), page.urls
    assert "script" not in page.tags
    assert "link" not in page.tags
    assert "iframe" not in page.tags
    assert page.tags.count("svg") == 4
    text = answer.get_data(as_text=True)
    assert "2 → 4" in text
    assert "Time to steady state" in text
    # The policy allows exactly the one inline style element, by its hash; no 'unsafe-inline', not even 'self'.
    policy = answer.headers["Content-Security-Policy"]
    [style] = page.styles
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy
    assert "'self'" not in policy
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


def test_openapi_documents_both_routes(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    report = spec["paths"]["/runs/{run_id}/autoscaling"]["get"]
    assert report["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AutoscalingReport"
    }
    assert "404" in report["responses"]
    assert {p["name"] for p in report["parameters"]} >= {"run_id", "vcpu_hour_usd", "pod_memory_mb", "step_seconds"}
    assert "Reaction" in spec["components"]["schemas"]
    export = spec["paths"]["/runs/{run_id}/autoscaling.html"]["get"]
    assert "attachment" in export["responses"]["200"]["description"]
