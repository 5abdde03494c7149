"""`fleet dora push` against a real `prometheus-pushgateway` on 127.0.0.1, read back from its /metrics."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fleet import exits
from fleet.dora import app
from fleet.dora.events import load_events
from fleet.dora.metrics import compute, parse_window
from fleet.dora.push import build_registry
from local_servers import free_port, running
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

FIXTURE = Path(__file__).parent / "fixtures" / "dora" / "events.json"
NOW = "2026-03-01T00:00:00Z"
PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    if not Path(PUSHGATEWAY).exists():
        pytest.skip(f"{PUSHGATEWAY} not found: apt-get install prometheus-pushgateway (.ci/run does)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Debian's build defaults --persistence.file to /var/lib/prometheus/pushgateway.data: an empty value keeps
    # this gateway in memory, so runs neither share state nor write outside the test.
    argv = [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    with running(argv, f"{url}/-/ready", "prometheus-pushgateway"):
        yield url


def scrape(url: str, job: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples of one job on the gateway, keyed by (name, sorted labels without job/instance)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=30).read().decode()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("job") != job or not sample.name.startswith("dora_"):
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("job", "instance")))
            samples[(sample.name, labels)] = sample.value
    return samples


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_push_then_read_back(gateway: str) -> None:
    args = ("--events", str(FIXTURE), "--pushgateway", gateway, "--job", "dora-test", "--now", NOW, "--json")
    result = run("push", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pushed"] == {"gateway": gateway, "job": "dora-test"}

    got = scrape(gateway, "dora-test")
    prod = (("environment", "production"),)
    assert got[("dora_deployments", prod)] == 8
    assert got[("dora_failed_deployments", prod)] == 4
    assert got[("dora_deployment_frequency_per_day", prod)] == pytest.approx(5 / 30)
    assert got[("dora_change_failure_ratio", prod)] == 0.5
    assert got[("dora_lead_time_seconds", (("environment", "production"), ("quantile", "0.5")))] == 9000
    assert got[("dora_lead_time_seconds", (("environment", "production"), ("quantile", "0.9")))] == pytest.approx(66240)
    assert got[("dora_time_to_restore_seconds", (("environment", "production"), ("quantile", "0.5")))] == 21600
    assert got[("dora_window_seconds", ())] == 30 * 86400
    assert got[("dora_window_end_timestamp_seconds", ())] == 1772323200  # 2026-03-01T00:00:00Z

    def band(env: str, metric: str, name: str) -> float:
        return got[("dora_performance_band", (("band", name), ("environment", env), ("metric", metric)))]

    assert band("production", "change_failure_rate", "low") == 1
    assert band("production", "change_failure_rate", "elite") == 0
    assert band("production", "lead_time", "elite") == 1
    assert band("staging", "deployment_frequency", "medium") == 1
    # Staging never failed: no restore time and no restore band, rather than a fake perfect score.
    staging = [(name, labels) for name, labels in got if ("environment", "staging") in labels]
    assert staging
    assert not any(name == "dora_time_to_restore_seconds" for name, _ in staging)
    assert not any(("metric", "time_to_restore") in labels for _, labels in staging)


def test_a_push_replaces_the_whole_group(gateway: str) -> None:
    base = ("push", "--events", str(FIXTURE), "--pushgateway", gateway, "--job", "dora-replace", "--now", NOW)
    assert run(*base).exit_code == 0
    assert any(("environment", "staging") in labels for _, labels in scrape(gateway, "dora-replace"))
    assert run(*base, "--environment", "production").exit_code == 0
    after = scrape(gateway, "dora-replace")
    assert after
    assert not any(("environment", "staging") in labels for _, labels in after)


def test_labels_stay_low_cardinality() -> None:
    log = load_events([FIXTURE])
    report = compute(log, datetime.fromisoformat(NOW), parse_window("30d"))
    allowed = {"environment", "quantile", "metric", "band"}
    for family in build_registry(report).collect():
        for sample in family.samples:
            assert set(sample.labels) <= allowed, sample
            assert not any(len(v) >= 40 for v in sample.labels.values()), "no sha or id in a label"


def test_unreachable_gateway_exits_3() -> None:
    port = free_port()
    result = run("push", "--events", str(FIXTURE), "--pushgateway", f"http://127.0.0.1:{port}", "--timeout", "2")
    assert result.exit_code == exits.REMOTE_ERROR
    assert "push to http://127.0.0.1:" in " ".join(result.stderr.split())


def test_docs_name_every_pushed_metric() -> None:
    log = load_events([FIXTURE])
    registry = build_registry(compute(log, datetime.fromisoformat(NOW), parse_window("30d")))
    docs = (Path(__file__).resolve().parents[3] / "docs" / "fleet.md").read_text()
    section = docs.split("<!-- section: dora -->")[1].split("<!-- section:")[0]
    for family in registry.collect():
        assert f"`{family.name}`" in section, family.name
