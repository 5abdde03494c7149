"""Each run bound, status and default target is defined once: change one value in limits.py (as an operator
editing it would) and every way in follows, with no other edit. POST /runs and its OpenAPI schema, the
dashboard's Cluster Load form, the Flagger webhook and `load-harness drive` all refuse the same value, naming
the bound; the CLI runs in-process (typer's CliRunner) so that it sees the monkeypatch."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from load_harness import limits as L
from load_harness.cli import drive
from load_harness.context import KEY
from load_harness.driver.spec import default_target
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOrigin, RunStatus
from typer import Typer
from typer.testing import CliRunner, Result

CANARY = "http://podinfo-canary.test:9898/"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
FORM = {
    "mode": "open", "target": "8", "preset": "constant", "duration_s": "5", "work": "cpu_ms", "work_amount": "1",
    "p99_ms": "", "errors_pct": "", "name": "", "url": "",
}  # fmt: skip


def cli(*args: str) -> Result:
    app = Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("drive")(drive.drive_command)
    return CliRunner().invoke(app, [*args, "--json"], terminal_width=200)


def post_form(client: FlaskClient, path: str, form: dict[str, str]) -> Any:
    """A dashboard POST as the browser's htmx sends it: with the page's CSRF token."""
    match = CSRF.search(client.get("/ui/").get_data(as_text=True))
    assert match, "no csrf token on /ui/"
    return client.post(path, data=form, headers={"X-CSRF-Token": match.group(1), "HX-Request": "true"})


def schema_property(client: FlaskClient, model: str, name: str) -> dict[str, Any]:
    prop: dict[str, Any] = client.get("/openapi.json").get_json()["components"]["schemas"][model]["properties"][name]
    return next((b for b in prop.get("anyOf", []) if b.get("type") != "null"), prop)


def test_one_changed_rate_bound_reaches_every_way_in(
    app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_factory(driver_allowed_hosts="podinfo-canary.test:9898")
    monkeypatch.setattr(L, "DRIVER_RATE_MAX", 7)
    client = app.test_client()

    # The API: its schema says 7, validation refuses 8 naming the bound and accepts 7.
    assert schema_property(client, "RunRequest", "rate")["maximum"] == 7
    refused = client.post("/runs", json={"rate": 8, "duration_seconds": 5, "placement": "external"})
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json()["errors"][0] | {"message": ""} == {
        "field": "rate", "message": "", "value": 8, "limit": {"le": 7},
    }  # fmt: skip
    ramp = client.post("/runs", json={"mode": "rate", "stages": "2s:8", "placement": "external"})
    assert [(e["field"], e["limit"]) for e in ramp.get_json()["errors"]] == [("stages", {"le": 7})]
    assert client.post("/runs", json={"rate": 7, "duration_seconds": 5, "placement": "external"}).status_code == 202

    # The dashboard: the form shows 7 as the target's maximum and refuses 8 next to the field.
    tab = client.get("/ui/tabs/cluster").get_data(as_text=True)
    assert "rate 1–7 req/s" in tab
    assert re.search(r'id="cluster-target"[^>]*max="7(\.0)?"', tab), tab
    page = post_form(client, "/ui/cluster", FORM)
    assert page.status_code == 422
    assert re.search(r'id="cluster-target-error"[^>]*>[^<]*1 and 7 req/s', page.get_data(as_text=True))
    assert post_form(client, "/ui/cluster", {**FORM, "target": "7"}).status_code == 200

    # Flagger: the metadata key is named, with the same bound.
    hook = {"name": "podinfo", "namespace": "test", "metadata": {"url": CANARY, "rate": "8", "duration": "5s"}}
    answer = client.post("/flagger/load-test", json=hook)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    [error] = answer.get_json()["errors"]
    assert (error["field"], error["limit"]) == ("metadata.rate", {"le": 7})

    # The CLI: a usage error naming the flag and the bound.
    result = cli("http://127.0.0.1:9/", "--rate", "8", "--duration", "1s")
    assert result.exit_code == 2, result.output
    assert "--rate" in result.output
    assert "at most 7 req/s" in result.output
    assert drive.build_plan("http://127.0.0.1:9/", rate=7).start_target == 7


@pytest.mark.parametrize(
    ("limit", "value", "body", "field", "args", "flag"),
    [
        ("DRIVER_CONCURRENCY_MAX", 3, {"concurrency": 4}, "concurrency", ["--concurrency", "4"], "--concurrency"),
        ("DRIVER_DURATION_MAX_S", 5, {"duration_seconds": 6}, "duration_seconds", ["--duration", "6s"], "--duration"),
        ("DRIVER_REQUESTS_MAX", 10, {"requests": 11}, "requests", ["--requests", "11"], "--requests"),
        ("DRIVER_TIMEOUT_MAX_S", 2, {"timeout_seconds": 3}, "timeout_seconds", ["--timeout", "3s"], "--timeout"),
        ("DRIVER_SHARDS_MAX", 2, {"shards": 3}, "shards", ["--shards", "3"], "--shards"),
        ("DRIVER_BODY_MAX_BYTES", 4, {"body": "[1,2,3]"}, "body", ["--body", "[1,2,3]"], "--body"),
        ("DRIVER_HEADERS_MAX", 1, {"headers": {"A": "1", "B": "2"}}, "headers", ["--header", "A:1", "--header", "B:2"],
         "--header"),
        ("DRIVER_THRESHOLDS_MAX", 1, {"thresholds": ["p99<1s", "errors<1%"]}, "thresholds",
         ["--threshold", "p99<1s", "--threshold", "errors<1%"], "--threshold"),
        ("DRIVER_STAGES_TEXT_MAX", 8, {"mode": "rate", "stages": "1s:1,1s:2"}, "stages", ["--stages", "1s:1,1s:2"],
         "--stages"),
        ("DRIVER_URL_MAX", 24, {"url": "http://127.0.0.1:8080/" + "a" * 9}, "url", [], "URL"),
    ],
)  # fmt: skip
def test_every_bound_is_read_when_checked(
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: int,
    body: dict[str, Any],
    field: str,
    args: list[str],
    flag: str,
) -> None:
    monkeypatch.setattr(L, limit, value)
    response = client.post("/runs", json={"placement": "external", **body})
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["errors"]
    assert error["field"] == field
    assert list(error["limit"].values()) == [value]
    keyword = {"le": "maximum", "max_length": None}[next(iter(error["limit"]))]
    schema = schema_property(client, "RunRequest", field)
    length_keyword = {"string": "maxLength", "array": "maxItems", "object": "maxProperties"}.get(schema.get("type"))
    assert schema[keyword or length_keyword] == value
    url = body.get("url", "http://127.0.0.1:9/")
    result = cli(url, *(args or ["--requests", "1"]))
    assert result.exit_code == 2, result.output
    assert flag in result.output


def test_statuses_and_origins_are_the_stored_strings(client: FlaskClient, app: Flask) -> None:
    """The enums change no stored value: each status filters GET /runs, the stored source reads back as a RunOrigin."""
    assert [s.value for s in RunStatus] == ["pending", "running", "completed", "stopped", "failed", "interrupted"]
    started = client.post("/runs", json={"rate": 5, "duration_seconds": 5, "placement": "external"}).get_json()
    for status in RunStatus:
        listed = client.get(f"/runs?status={status}").get_json()["runs"]
        assert [r["run_id"] for r in listed] == ([started["run_id"]] if status is RunStatus.PENDING else [])
    run = run_store.get(app.extensions[KEY].engine, started["run_id"])
    assert run is not None
    assert RunOrigin(run.source) is RunOrigin.API
    assert run.status == RunStatus.PENDING
    assert client.get("/runs?source=flagger").get_json()["count"] == 0
    assert client.get("/runs?status=lost").status_code == 422  # a job status, not a run status


def test_the_default_target_is_one_rule(app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    """No URL: the API, the dashboard and the CLI all drive this service's /load/cpu/work at SERVICE_URL."""
    service_url = "http://load-harness.apps:8080"
    expected = default_target(service_url, 9999)
    assert expected == "http://load-harness.apps:8080/load/cpu/work"
    app = app_factory(service_url=service_url)
    client = app.test_client()
    api_run = client.post("/runs", json={"rate": 5, "duration_seconds": 5, "placement": "external"})
    assert api_run.get_json()["target"] == expected
    assert post_form(client, "/ui/cluster", {**FORM, "target": "5"}).status_code == 200
    runs = run_store.list_runs(app.extensions[KEY].engine)
    assert [r.target for r in runs] == [expected, expected]
    assert {r.source for r in runs} == {RunOrigin.API, RunOrigin.DASHBOARD}
    assert all(r.plan.method == "POST" for r in runs)  # the endpoint's defaults: an empty JSON body
    monkeypatch.setenv("SERVICE_URL", service_url)
    assert drive.build_plan(None, rate=5).url == expected
    # Flagger keeps its own rule: a webhook names its canary, and no URL is refused rather than defaulted.
    hook = {"name": "web", "namespace": "apps", "metadata": {"rate": "5"}}
    assert client.post("/flagger/load-test", json=hook).get_json()["errors"][0]["field"] == "metadata.url"
