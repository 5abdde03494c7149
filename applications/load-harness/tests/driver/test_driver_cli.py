"""`load-harness drive` as a user meets it: options, exit codes, JSON, report, shards, default target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lh_support_procs import own_time
from load_harness.cli.drive import build_plan
from load_harness.driver.options import default_url
from load_harness.driver.report import render_html
from load_harness.driver.state import Summary
from load_harness.driver.thresholds import ThresholdResult


def output_json(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_thresholds_pass_exit_0_and_json_summary(cli: Any, backend: Any) -> None:
    result = cli(backend.url + "/", "--rate", "100", "--duration", "1s", "--json", "--threshold", "p99<5s")
    assert result.exit_code == 0, result.output
    summary = output_json(result)
    assert summary["thresholds"][0]["passed"] is True
    assert summary["exit_code"] == 0
    assert {"p50", "p90", "p99", "p99.9", "max"} <= set(summary["latency_ms"]["response"])
    assert summary["status_codes"] == {"200": summary["requests"]["completed"]}


def test_threshold_failure_exits_99(cli: Any, backend: Any) -> None:
    result = cli(
        backend.url + "/",
        "--concurrency",
        "2",
        "--duration",
        "0.5s",
        "--threshold",
        "p50<1us",
        "--threshold",
        "errors<1%",
    )
    assert result.exit_code == 99, result.output
    assert "FAIL" in result.stdout
    assert "pass" in result.stdout
    assert "Latency" in result.stdout
    assert "Pods" in result.stdout


def test_error_threshold_and_html_report(cli: Any, backend: Any, tmp_path: Path) -> None:
    report = tmp_path / "run.html"
    result = cli(
        backend.url + "/?status=500", "--concurrency", "2", "--requests", "50", "--threshold", "errors<1%",
        "--report", str(report), "--json",
    )  # fmt: skip
    assert result.exit_code == 99
    assert output_json(result)["error_classes"]["5xx"] == 50
    html = report.read_text()
    assert "<svg" in html
    assert "errors&lt;1%" in html
    assert "FAIL" in html
    assert "<script" not in html
    assert "http://" not in html.replace(backend.url, "").replace("http://www.w3.org", "")


def test_html_report_shows_the_summary_and_escapes_the_url(cli: Any, backend: Any, tmp_path: Path) -> None:
    report = tmp_path / "run.html"
    url = backend.url + "/?a=1&b='x'"  # `&` and `'` stay as they are on the wire; `<` would be percent-encoded
    result = cli(url, "--concurrency", "2", "--requests", "40", "--threshold", "p99<5s", "--report", str(report),
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = output_json(result)
    html = report.read_text()
    assert "/?a=1&amp;b=&#39;x&#39;" in html
    assert "b='x'" not in html
    assert f"<td>completed</td><td>{summary['requests']['completed']:,}</td>" in html
    assert f"<td>200</td><td>{summary['status_codes']['200']:,}</td>" in html
    response = summary["latency_ms"]["response"]
    assert f"<td>p99.9</td><td>{response['p99.9']:.3f}</td>" in html
    assert f"<td>{summary['pods'][0]['pod']}</td><td>{summary['pods'][0]['count']:,}</td>" in html
    assert "<td>p99&lt;5s</td>" in html
    assert '<span class="pass">pass</span>' in html
    assert html.count("<svg") == 2
    # The summary read back from its JSON renders the same page: nothing in the report depends on the process.
    typed = Summary.model_validate({k: v for k, v in summary.items() if k not in ("thresholds", "exit_code")})
    assert render_html(typed, [ThresholdResult.model_validate(t) for t in summary["thresholds"]]) == html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "ten"], "bad duration"),
        (["--rate", "10", "--concurrency", "2"], "not both"),
        (["--rate", "10", "--threshold", "p99<fast"], "bad threshold"),
        (["--rate", "-5"], "--rate"),
        (["--stages", "30s"], "bad stage"),
        (["--stages", "1s:5", "--duration", "2s"], "stages already set the duration"),
        (["--body", "{not json"], "not valid JSON"),
        (["--header", "novalue"], "NAME:VALUE"),
        (["--shards", "2", "--shard-index", "2"], "--shard-index"),
    ],
)
def test_bad_input_is_a_usage_error(cli: Any, args: list[str], message: str) -> None:
    result = cli("http://127.0.0.1:9/", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unreachable_target_exits_fast_with_a_clear_message(cli: Any, unreachable_url: str) -> None:
    with own_time() as took:
        result = cli(unreachable_url, "--rate", "200", "--duration", "30s")
    assert took.seconds < 3, took
    assert result.exit_code == 1
    assert "unreachable" in result.stderr


def test_unknown_host_is_reported_before_any_request(cli: Any) -> None:
    result = cli("http://no-such-host.invalid/", "--rate", "10", "--duration", "1s")
    assert result.exit_code == 1
    assert "cannot resolve" in result.stderr


def test_local_shards_merge(cli: Any, static_nginx: Any) -> None:
    result = cli(static_nginx.url + "/", "--rate", "300", "--duration", "2s", "--shards", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = output_json(result)
    assert summary["shards"] == 2
    requests = summary["requests"]
    # Both shards together schedule the run's arrivals exactly, and account for each: sent, or reported dropped.
    assert requests["scheduled"] == pytest.approx(600, abs=2), requests
    assert requests["sent"] + requests["dropped"] == requests["scheduled"], requests
    assert summary["latency_ms"]["response"]["count"] == requests["completed"]
    if requests["dropped"] == 0:  # shards that had the CPU to send on time kept the rate
        assert abs(summary["throughput"]["pacing_error_pct"]) <= 2


def test_default_target_is_this_services_cpu_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOAD_HARNESS_SERVICE_URL", raising=False)
    monkeypatch.setenv("PORT", "9123")
    assert default_url() == "http://127.0.0.1:9123/load/cpu/work"
    monkeypatch.setenv("LOAD_HARNESS_SERVICE_URL", "http://svc.ns:80/")
    plan = build_plan(None, cpu_ms=25, rate=5)
    assert plan.url == "http://svc.ns:80/load/cpu/work"
    assert (plan.method, plan.body, plan.mode) == ("POST", b'{"cpu_ms": 25}', "open")
    assert ("Content-Type", "application/json") in plan.headers
    assert build_plan(None, iterations=1000).body == b'{"iterations": 1000}'
    assert build_plan("http://x/").mode == "closed"  # neither flag: one closed loop
    staged = build_plan("http://x/", stages="10s:50", concurrency=0)
    assert (staged.mode, staged.start_target, staged.duration_s) == ("closed", 0, 10)
