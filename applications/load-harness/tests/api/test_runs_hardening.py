"""POST /runs under attack: parser blow-up, runs and shards without a cap, text the driver cannot send.

CPU budgets are measured with time.thread_time(): the Flask test client runs the request in this thread, so the
figure is the request's own CPU time whatever else the machine is doing. Races are forced with a barrier inside
the request path, so they happen on every run rather than by luck."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import RACERS
from load_harness import limits as L
from load_harness.cli.drive import drive_command
from load_harness.context import KEY
from load_harness.driver.client import build_target
from load_harness.driver.plan import PlanError, parse_duration, parse_stages
from load_harness.driver.thresholds import ThresholdError, parse_threshold
from load_harness.runs import repository as run_store
from typer import Typer
from typer.testing import CliRunner
from werkzeug.test import TestResponse

PARSE_BUDGET_S = 0.050  # the most CPU any request may spend parsing
SIZES = [4_000, 60_000]  # 4,000 digits already cost ~0.5 s before the fix; 60,000 is near the 64 KiB body cap
CALLERS = RACERS


def cpu_post(client: FlaskClient, path: str, body: dict[str, Any]) -> tuple[TestResponse, float]:
    client.get("/health")  # first-request set-up is not the parser's cost
    start = time.thread_time()
    response = client.post(path, json=body)
    return response, time.thread_time() - start


def fields_of(response: TestResponse) -> list[str]:
    return [str(e["field"]) for e in response.get_json()["errors"]]


@pytest.mark.parametrize("size", SIZES)
def test_long_threshold_is_refused_within_the_cpu_budget(client: FlaskClient, size: int) -> None:
    response, cpu = cpu_post(client, "/runs", {"rate": 5, "thresholds": ["p99<" + "1" * size + "x"]})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fields_of(response) == ["thresholds.0"]
    assert response.get_json()["errors"][0]["limit"] == {"max_length": L.THRESHOLD_TEXT_MAX}
    assert cpu < PARSE_BUDGET_S, f"{cpu:.3f} s of CPU for one request"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("parse", "text", "error"),
    [
        (parse_threshold, "p99<{digits}x", ThresholdError),
        (parse_duration, "{digits}x", PlanError),
        (parse_stages, "{digits}x:10", PlanError),
        (parse_stages, "10s:5,{digits}s:10", PlanError),
    ],
)
def test_parsers_refuse_long_text_in_linear_time(
    parse: Callable[[str], object], text: str, error: type[Exception], size: int
) -> None:
    """The CLI and the Flagger webhook call the parsers with no model in front: they cap and stay linear."""
    attack = text.format(digits="1" * size)
    start = time.thread_time()
    with pytest.raises(error, match="characters long; at most"):
        parse(attack)
    assert time.thread_time() - start < PARSE_BUDGET_S


@pytest.mark.parametrize(
    ("parse", "attack"),
    [
        (parse_threshold, "p99<" + "1" * 60_000 + "x"),
        (parse_threshold, "p99<1" + " " * 60_000 + "x"),
        (parse_duration, "1" * 60_000 + "x"),
        (parse_stages, "10s:5," + "1" * 60_000 + "x:10"),
    ],
    ids=["threshold-digits", "threshold-spaces", "duration-digits", "stage-duration-digits"],
)
def test_parsers_are_linear_even_without_the_caps(
    monkeypatch: pytest.MonkeyPatch, parse: Callable[[str], object], attack: str
) -> None:
    """The caps are a second line: the patterns themselves read each character once (no backtracking)."""
    for name in ("THRESHOLD_TEXT_MAX", "DURATION_TEXT_MAX", "STAGE_TEXT_MAX"):
        monkeypatch.setattr(L, name, 10**6)
    start = time.thread_time()
    with pytest.raises(ValueError, match="bad"):
        parse(attack)
    assert time.thread_time() - start < PARSE_BUDGET_S
    assert parse_duration("1h2m3s4ms") == pytest.approx(3723.004)
    assert parse_threshold("service.p99.9 <= .5s").limit == 500


# --- admission: runs and shard processes per pod ---------------------------------------------------------------


def test_local_runs_are_capped_per_pod(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(max_concurrent_runs=2, max_shard_processes=4)
    client = app.test_client()
    first = client.post("/runs", json={"rate": 5, "shards": 3})
    assert first.status_code == 202, first.get_data(as_text=True)
    too_many_shards = client.post("/runs", json={"rate": 5, "shards": 2})
    assert too_many_shards.status_code == 409
    problem = too_many_shards.get_json()
    assert problem["type"].endswith("/run-admission")
    assert "MAX_SHARD_PROCESSES" in problem["detail"]
    never = client.post("/runs", json={"rate": 5, "shards": 5})
    assert never.status_code == 422  # more than the pod could ever run: a bad request, not a busy pod
    assert never.get_json()["errors"][0] == {
        "field": "shards",
        "message": "this pod runs at most 4 driver shard processes (MAX_SHARD_PROCESSES)",
        "value": 5,
        "limit": {"le": 4},
    }
    assert client.post("/runs", json={"rate": 5}).status_code == 202
    refused = client.post("/runs", json={"rate": 5})
    assert refused.status_code == 409
    assert "MAX_CONCURRENT_RUNS" in refused.get_json()["detail"]
    # Runs on other pods (an Indexed Job) do not count against this pod.
    assert client.post("/runs", json={"rate": 5, "placement": "external", "shards": 8}).status_code == 202
    # A finished run frees its slot.
    run_store.fail(app.extensions[KEY].engine, first.get_json()["run_id"], "failed", "test")
    assert client.post("/runs", json={"rate": 5}).status_code == 202


def post_together(app: Flask, path: str, body: dict[str, Any]) -> list[TestResponse]:
    responses: list[TestResponse] = []
    lock = threading.Lock()

    def call() -> None:
        response = app.test_client().post(path, json=body)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=call) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(responses) == CALLERS
    return responses


@pytest.mark.usefixtures("gate")
def test_concurrent_posts_cannot_all_pass_admission(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(max_concurrent_runs=2, max_shard_processes=16)
    codes = sorted(r.status_code for r in post_together(app, "/runs", {"rate": 5, "shards": 2}))
    assert codes == [202, 202] + [409] * (CALLERS - 2)
    assert len(app.test_client().get("/runs").get_json()["runs"]) == 2


# --- text the driver cannot send -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"X-Team": "café €"}, "headers.X-Team"),
        ({"X-Équipe": "a"}, "headers.X-Équipe"),
        ({"X Team": "a"}, "headers.X Team"),
        ({"X-Team": "a\x00b"}, "headers.X-Team"),
    ],
)
def test_headers_the_driver_cannot_send_are_422(client: FlaskClient, headers: dict[str, str], field: str) -> None:
    response = client.post("/runs", json={"rate": 5, "headers": headers})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fields_of(response) == [field]


def test_non_ascii_path_is_percent_encoded_as_the_driver_sends_it(client: FlaskClient) -> None:
    response = client.post("/runs", json={"url": "http://127.0.0.1:8080/load/€?q=ü b", "rate": 5, "cpu_ms": 1})
    assert response.status_code == 202, response.get_data(as_text=True)
    target = response.get_json()["target"]
    assert target == "http://127.0.0.1:8080/load/%E2%82%AC?q=%C3%BC%20b"
    request_head = build_target(target, "POST").request  # what every shard sends; it crashed before
    assert request_head.startswith(b"POST /load/%E2%82%AC?q=%C3%BC%20b HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://bücher.test:8080/", "IDNA"), ("http://[::zz]:8080/", "not a valid URL"), ("http://[::1/", "IPv6")],
)
def test_hosts_the_driver_cannot_send_are_422_naming_the_url(client: FlaskClient, url: str, message: str) -> None:
    response = client.post("/runs", json={"url": url, "rate": 5})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fields_of(response) == ["url"]
    assert message in response.get_json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (["http://127.0.0.1:9/", "--header", "X-Team: €"], "--header"),
        (["http://127.0.0.1:9/", "--header", "X-Équipe: a"], "--header"),
        (["http://bücher.test:9/"], "URL"),
    ],
)
def test_cli_gives_the_same_clear_usage_error(args: list[str], param: str) -> None:
    app = Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("drive")(drive_command)
    result = CliRunner().invoke(app, [*args, "--requests", "1", "--json"], terminal_width=200)  # one command
    assert result.exit_code == 2, result.output
    assert param in result.output
    assert "Traceback" not in result.output
