"""The Flagger webhook under bad metadata, parser blow-up, several webhooks per Canary, and concurrent calls.

CPU is measured with time.thread_time() (the test client runs the request in this thread). The concurrent calls
are held at a barrier inside create_run, so every one of them has passed any check made before the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import RACERS
from werkzeug.test import TestResponse

CANARY = "http://podinfo-canary.test:9898/"
PATH = "/flagger/load-test"
PARSE_BUDGET_S = 0.050
CALLERS = RACERS


@pytest.fixture
def flagger(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(driver_allowed_hosts="podinfo-canary.test:9898")


def payload(metadata: dict[str, str], name: str = "podinfo") -> dict[str, Any]:
    return {"name": name, "namespace": "test", "phase": "Progressing", "metadata": metadata}


def fields_of(response: TestResponse) -> list[str]:
    return [str(e["field"]) for e in response.get_json()["errors"]]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"cmd": f"hey -z 1m -q abc -c 2 {CANARY}"}, "metadata.cmd"),
        ({"cmd": f"hey -z 1m -q 10 -c abc {CANARY}"}, "metadata.cmd"),
        ({"cmd": f"hey -z 1m -c abc {CANARY}"}, "metadata.cmd"),
        ({"cmd": f"hey -z 1m -q 10 -t abc {CANARY}"}, "metadata.cmd"),
        ({"cmd": "hey -z 1m -q 10 'http://podinfo-canary.test:9898/"}, "metadata.cmd"),
        ({"cmd": f"load-harness drive {CANARY} --rate 5 --timeout 0"}, "metadata.cmd"),
        ({"url": CANARY, "rate": "5", "timeout": "abc"}, "metadata.timeout"),
        ({"url": CANARY, "rate": "5", "timeout": "0"}, "metadata.timeout"),
        ({"url": CANARY, "rate": "5", "timeout": "2m"}, "metadata.timeout"),
        ({"url": CANARY, "rate": "abc"}, "metadata.rate"),
        ({"url": "", "rate": "5"}, "metadata.url"),  # found by schemathesis: it used to run against this service
        ({"url": " ", "rate": "5"}, "metadata.url"),
        ({"url": CANARY, "rate": "5", "thresholds": "p99<banana"}, "metadata.thresholds"),
    ],
)
def test_bad_metadata_is_422_naming_the_metadata_key(flagger: Flask, metadata: dict[str, str], field: str) -> None:
    response = flagger.test_client().post(PATH, json=payload(metadata))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in fields_of(response)


def test_cmd_errors_name_the_flag(flagger: Flask) -> None:
    response = flagger.test_client().post(PATH, json=payload({"cmd": f"hey -z 1m -c abc {CANARY}"}))
    assert response.get_json()["errors"][0]["message"].startswith("-c: ")


@pytest.mark.parametrize("size", [4_000, 60_000])  # 60,000 is near the 64 KiB body cap
@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"url": CANARY, "rate": "5", "duration": "{digits}x"}, "metadata.duration"),
        ({"url": CANARY, "rate": "5", "timeout": "{digits}x"}, "metadata.timeout"),
        ({"url": CANARY, "rate": "5", "thresholds": "p99<{digits}x"}, "metadata.thresholds"),
        ({"cmd": "hey -z {digits}x -q 1 -c 1 " + CANARY}, "metadata.cmd"),
        ({"cmd": "hey -t {digits}x -q 1 -c 1 " + CANARY}, "metadata.cmd"),
    ],
)
def test_long_durations_and_thresholds_are_refused_within_the_cpu_budget(
    flagger: Flask, metadata: dict[str, str], field: str, size: int
) -> None:
    client = flagger.test_client()
    client.get("/health")  # first-request set-up is not the parser's cost
    attack = {key: value.replace("{digits}", "1" * size) for key, value in metadata.items()}
    start = time.thread_time()
    response = client.post(PATH, json=payload(attack))
    cpu = time.thread_time() - start
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fields_of(response) == [field]
    assert cpu < PARSE_BUDGET_S, f"{cpu:.3f} s of CPU for one request"


def test_each_webhook_of_a_canary_gets_its_own_run(app_factory: Callable[..., Flask]) -> None:
    client: FlaskClient = app_factory(
        driver_allowed_hosts="podinfo-canary.test:9898", api_key="k", max_concurrent_runs=3
    ).test_client()
    version = {"cmd": f"hey -z 1m -q 10 -c 2 {CANARY}version", "token": "k"}
    cpu = {"url": f"{CANARY}cpu", "rate": "5", "duration": "1m", "token": "k"}
    first = client.post(PATH, json=payload(version)).get_json()
    second = client.post(PATH, json=payload(cpu)).get_json()
    assert (first["status"], second["status"]) == ("started", "started")
    assert first["run"]["run_id"] != second["run"]["run_id"]
    # The next analysis interval calls both again: each finds its own run. The token is not part of the identity.
    by_header = {k: v for k, v in version.items() if k != "token"}
    again = client.post(PATH, json=payload(by_header), headers={"X-API-Key": "k"}).get_json()
    assert (again["status"], again["run"]["run_id"]) == ("running", first["run"]["run_id"])
    assert client.post(PATH, json=payload(cpu)).get_json()["run"]["run_id"] == second["run"]["run_id"]
    # Another canary with the same metadata is another run.
    other = client.post(PATH, json=payload(cpu, name="other")).get_json()
    assert other["status"] == "started"


@pytest.mark.usefixtures("gate")
def test_concurrent_identical_calls_start_exactly_one_run(flagger: Flask) -> None:
    body = payload({"cmd": f"hey -z 1m -q 10 -c 2 {CANARY}"})
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def call() -> None:
        response = flagger.test_client().post(PATH, json=body)
        with lock:
            answers.append({"code": response.status_code, **(response.get_json() or {})})

    threads = [threading.Thread(target=call) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [a["code"] for a in answers] == [200] * CALLERS, answers
    assert sorted(a["status"] for a in answers) == ["running"] * (CALLERS - 1) + ["started"]
    assert len({a["run"]["run_id"] for a in answers}) == 1
    assert len(flagger.test_client().get("/runs").get_json()["runs"]) == 1
