"""The runs API without launching processes: validation, the SSRF guard, listing and the Flagger webhook."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient


def test_run_defaults_to_this_service(client: FlaskClient) -> None:
    response = client.post("/runs", json={"rate": 50, "duration_seconds": 5, "cpu_ms": 2})
    assert response.status_code == 202, response.get_data(as_text=True)
    run = response.get_json()
    assert run["status"] == "pending"
    assert run["target"].endswith("/load/cpu/work")
    assert run["mode"] == "rate"
    detail = client.get(f"/runs/{run['run_id']}").get_json()
    assert detail["summary"] is None
    assert detail["duration_s"] == 5
    listed = client.get("/runs").get_json()
    assert [r["run_id"] for r in listed["runs"]] == [run["run_id"]]
    assert client.post(f"/runs/{run['run_id']}/stop").get_json()["stop_requested"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url"),
        ({"url": "http://example.com/"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "http://user:pw@127.0.0.1:8080/"}, "url"),
        ({"rate": 10**9}, "rate"),
        ({"rate": 5, "concurrency": 5}, "(body)"),
        ({"concurrency": 0}, "concurrency"),
        ({"duration_seconds": 10**6}, "duration_seconds"),
        ({"mode": "rate", "stages": "10s:100,bogus"}, "stages"),
        ({"stages": "10s:100"}, "(body)"),
        ({"mode": "rate", "stages": "10s:100000"}, "stages"),
        ({"mode": "rate", "stages": "3000s:10,3000s:10"}, "stages"),
        ({"thresholds": ["p99 < banana"]}, "thresholds.0"),
        ({"body": "x" * 20_000}, "body"),
        ({"headers": {"X-A": "b\r\nInjected: 1"}}, "headers"),
        ({"shards": 100}, "shards"),
        ({"rate": True}, "rate"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_runs_are_422_naming_the_field(client: FlaskClient, body: dict[str, object], field: str) -> None:
    response = client.post("/runs", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_allowlist_extends_targets(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(driver_allowed_hosts="*.svc.cluster.local:80,podinfo-canary.test:9898").test_client()
    for url in ("http://web.apps.svc.cluster.local/", "http://podinfo-canary.test:9898/"):
        assert client.post("/runs", json={"url": url, "rate": 5}).status_code == 202, url
    assert client.post("/runs", json={"url": "http://podinfo-canary.test:22/", "rate": 5}).status_code == 422


def test_unknown_run_is_404(client: FlaskClient) -> None:
    assert client.get("/runs/run_nope").status_code == 404
    assert client.post("/runs/run_nope/stop").status_code == 404
    assert client.get("/runs?status=weird").status_code == 422


def test_flagger_webhook_starts_one_bounded_run_per_canary(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(driver_allowed_hosts="podinfo-canary.test:9898").test_client()
    payload = {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "abc",
        "metadata": {"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"},
    }
    first = client.post("/flagger/load-test", json=payload)
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert body["status"] == "started"
    assert body["run"]["mode"] == "rate"
    assert body["run"]["start_target"] == 20.0  # hey's -q is per worker: 10 × 2
    assert body["run"]["duration_s"] == 60
    again = client.post("/flagger/load-test", json=payload).get_json()
    assert again["status"] == "running"
    assert again["run"]["run_id"] == body["run"]["run_id"]


def test_flagger_metadata_keys_and_limits(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(driver_allowed_hosts="*.test:80", api_key="k").test_client()
    base = {"name": "web", "namespace": "test"}
    meta = {
        "url": "http://web-canary.test/",
        "concurrency": "4",
        "duration": "30s",
        "thresholds": "p99<500ms;errors<1%",
    }
    assert client.post("/flagger/load-test", json={**base, "metadata": meta}).status_code == 401
    ok = client.post("/flagger/load-test", json={**base, "metadata": {**meta, "token": "k"}})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["run"]["mode"] == "concurrency"
    long = {**meta, "token": "k", "duration": "2h"}
    refused = client.post("/flagger/load-test", json={"name": "other", "namespace": "test", "metadata": long})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "metadata.duration"
    cmd = {"cmd": "curl http://x", "token": "k"}
    assert client.post("/flagger/load-test", json={"name": "c", "namespace": "t", "metadata": cmd}).status_code == 422
