"""Flagger's `metadata.cmd` against the CLI it imitates: a `load-harness drive` line is parsed by the CLI's own
option definitions, every CLI option is either accepted (and means the RunRequest field it sets) or refused by
name, and hey's flags name real drive options. A new drive option that nobody decided on fails here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from load_harness.api import flagger
from load_harness.api.run_models import RunRequest
from load_harness.runs import cmdline

CANARY = "http://podinfo-canary.test:9898/"
PATH = "/flagger/load-test"


def drive_options() -> dict[str, Any]:
    """The drive command's parameters by name, as `load-harness drive` parses them."""
    return {param.name: param for param in cmdline.drive_parser().params}


def run_request(cmd: str) -> RunRequest:
    return flagger._run_request(flagger._cmd_fields(cmdline.parse(cmd)))


def refused(cmd: str) -> str:
    with pytest.raises(cmdline.CommandLineError) as caught:
        cmdline.parse(cmd)
    return str(caught.value)


# --- drift: the webhook decides on every option the CLI has ---------------------------------------------------


def test_every_drive_option_is_accepted_or_refused() -> None:
    names = set(drive_options())
    undecided = names - set(cmdline.ACCEPTED) - set(cmdline.REFUSED)
    assert not undecided, f"decide in runs/cmdline.py whether the webhook accepts {sorted(undecided)}"
    assert not set(cmdline.ACCEPTED) & set(cmdline.REFUSED)
    gone = (set(cmdline.ACCEPTED) | set(cmdline.REFUSED)) - names
    assert not gone, f"runs/cmdline.py names options the CLI no longer has: {sorted(gone)}"


def test_accepted_options_set_the_command_line_fields() -> None:
    fields = {f.name for f in dataclasses.fields(cmdline.CommandLine)} - {"flags"}
    assert set(cmdline.ACCEPTED.values()) == fields
    # duration and timeout stay text (the webhook caps and converts them); the rest are RunRequest fields.
    assert fields - {"duration", "timeout"} <= set(RunRequest.model_fields)


def test_hey_flags_name_accepted_drive_options() -> None:
    options = drive_options()
    for hey_flag, name in cmdline.HEY_FLAGS.items():
        assert name in options, f"hey {hey_flag} means --{name}, which `load-harness drive` no longer has"
        assert name in cmdline.ACCEPTED, f"hey {hey_flag} means a drive option the webhook refuses"


# --- each accepted option means the same RunRequest field as on the CLI ------------------------------------------

ROUND_TRIPS = [
    ("--rate 5", {"rate": 5.0}),
    ("--rate=2.5", {"rate": 2.5}),
    ("--concurrency 3", {"concurrency": 3}),
    ("--duration 30s", {"duration_seconds": 30}),
    ("--duration=2m", {"duration_seconds": 120}),
    ("--requests 100 --concurrency 2", {"requests": 100}),
    ("--method post", {"method": "POST"}),
    ("""--body '{"a": 1}'""", {"body": '{"a": 1}'}),
    ("--header X-A:b --header 'X-B: c d'", {"headers": {"X-A": "b", "X-B": "c d"}}),
    ("--timeout 2s", {"timeout_seconds": 2.0}),
    ("--shards 2", {"shards": 2}),
    ("--threshold 'p99<1s' --threshold=errors<1%", {"thresholds": ["p99<1s", "errors<1%"]}),
    ("--cpu-ms 5", {"cpu_ms": 5.0}),
    ("--iterations 1000", {"iterations": 1000}),
]


@pytest.mark.parametrize(("words", "expected"), ROUND_TRIPS)
def test_drive_option_round_trips_to_its_run_request_field(words: str, expected: dict[str, Any]) -> None:
    req = run_request(f"load-harness drive {CANARY} {words}")
    assert {name: getattr(req, name) for name in expected} == expected
    assert req.url == CANARY


def test_round_trips_cover_every_accepted_option() -> None:
    options = drive_options()
    flags = {options[name].opts[0] for name in cmdline.ACCEPTED if name != "url"}
    used = {word.split("=")[0] for words, _ in ROUND_TRIPS for word in words.split() if word.startswith("--")}
    assert flags - used == set(), "add a ROUND_TRIPS case for each accepted option"


def test_command_line_names_the_flag_behind_each_field() -> None:
    line = cmdline.parse(f"load-harness drive --rate 5 --header A:b --timeout=2s {CANARY}")
    assert line.flags == {"rate": "--rate", "headers": "--header", "timeout": "--timeout", "url": "URL"}
    assert (line.rate, line.headers, line.timeout, line.url) == (5.0, (("A", "b"),), "2s", CANARY)
    assert line.duration is None  # not given: the webhook's default applies, not the CLI's


HEY_TRIPS = [
    (
        f"hey -z 30s -q 10 -c 2 -m POST -d '{{}}' -H 'A: b' -t 3 {CANARY}",
        {"rate": 20.0, "concurrency": None, "duration_seconds": 30, "method": "POST", "body": "{}",
         "headers": {"A": "b"}, "timeout_seconds": 3.0, "url": CANARY},
    ),
    (f"hey -q 2 {CANARY}", {"rate": 100.0, "concurrency": None}),  # hey's default -c is 50
    (f"hey -c 4 -n 100 {CANARY}", {"rate": None, "concurrency": 4, "requests": 100}),
    (f"hey -z=1m -q=5 -c=2 {CANARY}", {"rate": 10.0, "duration_seconds": 60}),  # Go's -flag=value
    (f"hey -H A:1 -H B:2 {CANARY}", {"headers": {"A": "1", "B": "2"}}),
]  # fmt: skip


@pytest.mark.parametrize(("cmd", "expected"), HEY_TRIPS)
def test_hey_line_round_trips(cmd: str, expected: dict[str, Any]) -> None:
    req = run_request(cmd)
    assert {name: getattr(req, name) for name in expected} == expected


def test_hey_line_names_hey_flags() -> None:
    line = cmdline.parse(f"hey -z 30s -q 10 -c 2 -t 3 {CANARY}")
    assert line.flags == {"duration": "-z", "rate": "-q", "timeout": "-t", "url": "URL"}


# --- refused options and usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(cmdline.REFUSED))
def test_refused_option_is_named(name: str) -> None:
    option = drive_options()[name]
    words = [option.opts[0]] if getattr(option, "is_flag", False) else [option.opts[0], "1"]
    message = refused(f"load-harness drive {CANARY} --rate 5 {' '.join(words)}")
    assert message == f"{option.opts[0]}: {cmdline.REFUSED[name]}"


@pytest.mark.parametrize(
    ("cmd", "start"),
    [
        (f"load-harness drive {CANARY} --nope 1", "--nope: no such option"),
        (f"load-harness drive {CANARY} --help", "--help: no such option"),  # never prints help in the worker
        (f"load-harness drive {CANARY} -r 5", "-r: no such option"),
        (f"load-harness drive {CANARY} --rate", "--rate: requires an argument"),
        (f"load-harness drive {CANARY} --rate fast", "--rate: "),
        (f"load-harness drive {CANARY} --concurrency 2.5", "--concurrency: "),
        (f"load-harness drive {CANARY} --json=yes", "--json: does not take a value"),
        (f"load-harness drive {CANARY} --header nocolon", "--header: bad header"),
        (f"load-harness drive {CANARY} {CANARY}x", "Got unexpected extra argument"),
        (f"hey -q 10 -x 3 {CANARY}", "-x: not a hey flag"),
        ("hey -q 10 -c", "-c: needs a value"),
        (f"hey -q 10 -t 1.5 {CANARY}", "-t: must be a whole number of seconds"),
        (f"hey -q 0 {CANARY}", "-q: must be a positive number"),
        (f"hey -q 1 -c nan {CANARY}", "-c: must be a positive number"),
        (f"hey -n many {CANARY}", "-n: "),
        (f"hey {CANARY} {CANARY}", "URL: hey takes one URL"),
        ("curl http://x", "must start with"),
    ],
)
def test_usage_errors_name_the_flag(cmd: str, start: str) -> None:
    assert refused(cmd).startswith(start)


def test_unknown_option_suggests_only_accepted_ones() -> None:
    message = refused(f"load-harness drive {CANARY} --repor x")
    assert "--report" not in message


def test_long_values_do_not_make_long_messages() -> None:
    message = refused(f"load-harness drive {CANARY} {'x' * 3000}")  # click quotes the extra word
    assert len(message) <= 300


# --- through the webhook ---------------------------------------------------------------------------------------


@pytest.fixture
def client(app_factory: Callable[..., Flask]) -> Any:
    return app_factory(driver_allowed_hosts="podinfo-canary.test:9898").test_client()


def post(client: Any, cmd: str) -> Any:
    body = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": {"cmd": cmd}}
    return client.post(PATH, json=body)


def test_drive_line_starts_the_run_it_describes(client: Any) -> None:
    response = post(client, f"load-harness drive --rate=7 --duration 30s --threshold 'p99<2s' {CANARY}")
    assert response.status_code == 200, response.get_data(as_text=True)
    run = response.get_json()["run"]
    assert (run["mode"], run["start_target"], run["duration_s"]) == ("rate", 7.0, 30)


@pytest.mark.parametrize(
    ("cmd", "start"),
    [
        (f"load-harness drive {CANARY} --rate 5 --report /tmp/x.html", "--report: "),
        (f"load-harness drive {CANARY} --rate 5 --stages 10s:5", "--stages: "),
        (f"load-harness drive {CANARY} --rate x", "--rate: "),
        (f"load-harness drive {CANARY} --rate 5 --duration 20m", "--duration: "),  # the webhook's cap
        (f"load-harness drive {CANARY} --rate 5 --shards 999", "--shards: "),  # RunRequest's bound
        (f"hey -q 10 -c 2 -n 0 {CANARY}", "-n: "),
        (f"hey -q 10 -z {CANARY}", "-z: "),  # -z took the URL as its value
    ],
)
def test_webhook_refuses_with_422_on_metadata_cmd(client: Any, cmd: str, start: str) -> None:
    response = post(client, cmd)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert [e["field"] for e in errors] == ["metadata.cmd"]
    assert errors[0]["message"].startswith(start), errors
