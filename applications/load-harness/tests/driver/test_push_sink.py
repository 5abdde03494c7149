"""Driver run summaries pushed to a real /usr/bin/prometheus-pushgateway (driver/push_sink.py), read back from its
/metrics: the gauges, their values (the run's own summary), exactly the low-cardinality labels, one group per origin
and target however many runs, and a push that fails only warns."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lh_support import start_server, wait_for
from load_harness.driver.push_sink import PUSH_JOB, target_label
from load_harness.server.launch import free_port
from load_harness.settings import Settings
from local_servers import running
from prometheus_client.parser import text_string_to_metric_families

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"
GAUGES = {
    "load_harness_driver_run_requests",
    "load_harness_driver_run_errors",
    "load_harness_driver_run_dropped_arrivals",
    "load_harness_driver_run_achieved_rps",
    "load_harness_driver_run_duration_seconds",
    "load_harness_driver_run_end_timestamp_seconds",
    "load_harness_driver_run_response_seconds",
}
# The Pushgateway adds an empty `instance` to a group pushed without one; nothing else is there but ours.
GROUP_LABELS = {"job", "instance", "origin", "target"}


@dataclass(frozen=True)
class Pushed:
    """One pushed sample: its labels (all of them) and value."""

    name: str
    labels: dict[str, str]
    value: float


@pytest.fixture
def gateway() -> Iterator[str]:
    if not Path(PUSHGATEWAY).exists():
        pytest.skip(f"{PUSHGATEWAY} not found: apt-get install prometheus-pushgateway (.ci/run does)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: empty keeps it in memory.
    argv = [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    with running(argv, f"{url}/-/ready", "prometheus-pushgateway"):
        yield url


def scrape(gateway: str) -> list[Pushed]:
    text = urllib.request.urlopen(f"{gateway}/metrics", timeout=30).read().decode()
    return [
        Pushed(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("job") == PUSH_JOB and sample.name != "push_failure_time_seconds"
    ]


def pushes(gateway: str) -> float:
    """PUTs the gateway answered: how many times anyone pushed."""
    text = urllib.request.urlopen(f"{gateway}/metrics", timeout=30).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "pushgateway_http_requests_total"
        and (sample.labels.get("handler"), sample.labels.get("method")) == ("push", "put")
    )


def by_name(samples: list[Pushed]) -> dict[str, float]:
    return {s.name + (f"{{{s.labels['quantile']}}}" if "quantile" in s.labels else ""): s.value for s in samples}


def drive(cli: Callable[..., Any], *args: str) -> tuple[dict[str, Any], str]:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def assert_pushed(samples: list[Pushed], summary: dict[str, Any], origin: str, target: str) -> None:
    ours = [s for s in samples if s.name in GAUGES]
    assert {s.name for s in ours} == GAUGES
    for sample in ours:
        extra = {"quantile"} if sample.name == "load_harness_driver_run_response_seconds" else set()
        assert set(sample.labels) == GROUP_LABELS | extra, sample
        assert (sample.labels["origin"], sample.labels["target"], sample.labels["instance"]) == (origin, target, "")
    values = by_name(ours)
    latency = summary["latency_ms"]["response"]
    assert values == {
        "load_harness_driver_run_requests": summary["requests"]["completed"],
        "load_harness_driver_run_errors": summary["requests"]["errors"],
        "load_harness_driver_run_dropped_arrivals": summary["requests"]["dropped"],
        "load_harness_driver_run_achieved_rps": summary["throughput"]["completed_rps"],
        "load_harness_driver_run_duration_seconds": summary["duration_s"],
        "load_harness_driver_run_end_timestamp_seconds": summary["started_at"] + summary["duration_s"],
        "load_harness_driver_run_response_seconds{0.5}": pytest.approx(latency["p50"] / 1000),
        "load_harness_driver_run_response_seconds{0.95}": pytest.approx(latency["p95"] / 1000),
        "load_harness_driver_run_response_seconds{0.99}": pytest.approx(latency["p99"] / 1000),
    }


def test_a_cli_run_pushes_its_summary(cli: Callable[..., Any], backend: Any, gateway: str) -> None:
    # The path and query stay out of the labels: only host:port names the target.
    url = f"{backend.url}/orders/12345?status=503"
    summary, _ = drive(cli, url, "--rate", "50", "--requests", "20", "--pushgateway", gateway)
    assert summary["requests"]["completed"] == 20
    assert summary["requests"]["errors"] == 20  # every answer a 503: the errors gauge is not a constant 0
    assert_pushed(scrape(gateway), summary, "cli", f"127.0.0.1:{backend.port}")
    assert pushes(gateway) == 1


def test_runs_against_one_target_share_one_group(cli: Callable[..., Any], backend: Any, gateway: str) -> None:
    """No label per run: the second run replaces the first one's figures instead of adding series."""
    drive(cli, f"{backend.url}/first", "--rate", "50", "--requests", "10", "--pushgateway", gateway)
    second, _ = drive(cli, f"{backend.url}/second", "--rate", "50", "--requests", "30", "--pushgateway", gateway)
    samples = scrape(gateway)
    assert {(s.labels["origin"], s.labels["target"]) for s in samples} == {("cli", f"127.0.0.1:{backend.port}")}
    assert_pushed(samples, second, "cli", f"127.0.0.1:{backend.port}")


def test_pushgateway_url_from_the_environment_and_local_shards_push_once(
    cli: Callable[..., Any], backend: Any, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PUSHGATEWAY_URL without the flag. The shard processes inherit it, yet only the launcher, which holds
    the merged run, pushes: one PUT, with both shards' requests."""
    monkeypatch.setenv("PUSHGATEWAY_URL", gateway + "/")
    # Settings read afresh, leaving this process's cached ones (which other tests see) alone.
    monkeypatch.setattr("load_harness.cli.drive.get_settings", Settings)
    summary, _ = drive(cli, backend.url, "--rate", "60", "--requests", "24", "--shards", "2")
    assert summary["shards"] == 2
    assert summary["requests"]["completed"] == 24
    assert_pushed(scrape(gateway), summary, "cli", f"127.0.0.1:{backend.port}")
    assert pushes(gateway) == 1


def test_an_unreachable_gateway_only_warns(cli: Callable[..., Any], backend: Any) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    summary, stderr = drive(cli, backend.url, "--rate", "50", "--requests", "10", "--pushgateway", nowhere)
    assert summary["requests"]["completed"] == 10
    assert summary["exit_code"] == 0
    group = f"(job={PUSH_JOB}, origin=cli, target=127.0.0.1:{backend.port})"
    assert f"warning: push to {nowhere} {group} failed" in stderr
    assert "Connection refused" in stderr


def test_a_gateway_that_refuses_the_push_only_warns(cli: Callable[..., Any], backend: Any, gateway: str) -> None:
    """An HTTP error from the gateway (a path prefix it does not serve) is reported with its status."""
    summary, stderr = drive(cli, backend.url, "--rate", "50", "--requests", "5", "--pushgateway", gateway + "/nope")
    assert summary["exit_code"] == 0
    assert "warning: push to" in stderr
    assert "failed: HTTP Error 404" in stderr
    assert scrape(gateway) == []


def test_a_bad_pushgateway_flag_is_a_usage_error(cli: Callable[..., Any], backend: Any) -> None:
    for bad, reason in [
        ("ftp://gateway:9091", "must be an http:// or https:// URL"),
        ("http://user:secret@gateway:9091", "must not carry userinfo"),
    ]:
        result = cli(backend.url, "--requests", "1", "--pushgateway", bad)
        assert result.exit_code == 2, result.output
        assert "--pushgateway" in result.output
        assert reason in result.output
        assert "secret" not in result.output  # the value itself is never echoed


def test_a_bad_pushgateway_url_setting_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="pushgateway_url"):
        Settings(pushgateway_url="gateway:9091")
    assert Settings(pushgateway_url="http://gw:9091/").pushgateway_url == "http://gw:9091"


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("http://127.0.0.1:8080/load/cpu/work?x=1", "127.0.0.1:8080"),
        ("https://User:pw@Shop.Example.com/checkout/42", "shop.example.com"),
        ("http://[::1]:9000/", "[::1]:9000"),
    ],
)
def test_the_target_label_is_host_and_port_only(url: str, label: str) -> None:
    assert target_label(url) == label


@pytest.mark.slow
def test_an_api_run_launched_by_the_supervisor_pushes_the_whole_run(tmp_path: Path, gateway: str) -> None:
    """Both shards run in their own processes; the whole run's frozen summary is what lands, labelled api."""
    server = start_server(tmp_path, extra_env={"PUSHGATEWAY_URL": gateway})
    try:
        response = server.post("/runs", json={"rate": 30, "duration_seconds": 2, "cpu_ms": 1, "shards": 2})
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        assert wait_for(lambda: server.get(f"/runs/{run_id}").json()["status"] == "completed", timeout=60)
        summary = server.get(f"/runs/{run_id}").json()["summary"]
        assert wait_for(lambda: scrape(gateway), timeout=60), "the run's summary never reached the gateway"
        target = server.url.removeprefix("http://")
        assert_pushed(scrape(gateway), summary, "api", target)
    finally:
        server.stop()
