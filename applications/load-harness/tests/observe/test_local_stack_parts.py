"""The local stack's parts without the whole stack: the configuration it writes, the pid records that keep `down`
from signalling a stranger, and the Python balancer used when nginx is missing."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from lh_support import wait_for
from load_harness.localstack.layout import LOOPBACK, Ports, StackLayout
from load_harness.localstack.monitoring import DUMMY_URL, alertmanager_config, prometheus_config
from load_harness.localstack.records import ProcessRecord, is_running, spawn, stop
from load_harness.localstack.replicas import replica_labels, replicas_of, write_targets
from load_harness.server.launch import free_port

REPO = Path(__file__).resolve().parents[4]
CONFIG_DIR = REPO / "observability"
PROMTOOL = "/usr/bin/promtool"
HTTP_TIMEOUT_S = 10


def layout_in(tmp_path: Path, config_dir: Path = CONFIG_DIR) -> StackLayout:
    ports = Ports(balancer=18080, first_replica=18081, prometheus=19090, pushgateway=19091, alertmanager=19093)
    return StackLayout(var_dir=tmp_path, config_dir=config_dir, ports=ports)


def test_the_running_prometheus_config_puts_in_this_machines_ports_rules_and_replicas(tmp_path: Path) -> None:
    layout = layout_in(tmp_path)
    config = prometheus_config(layout, scrape_interval="1s")

    assert config["global"]["scrape_interval"] == config["global"]["scrape_timeout"] == "1s"
    for pattern in config["rule_files"]:
        assert Path(pattern).is_absolute()
        assert glob.glob(pattern), f"{pattern} matches no rule file"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["load-harness"]["file_sd_configs"] == [{"files": [str(layout.targets_file)], "refresh_interval": "5s"}]
    assert "static_configs" not in jobs["load-harness"]
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["pushgateway"]["static_configs"] == [{"targets": ["127.0.0.1:19091"]}]
    assert jobs["alertmanager"]["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:19090"]}]
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["127.0.0.1:19093"]}]}]

    written = tmp_path / "prometheus.yml"
    written.write_text(yaml.safe_dump(config))
    write_targets(layout, replicas_of(layout, 3))
    checked = subprocess.run([PROMTOOL, "check", "config", str(written)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_repository_config_labels_its_default_replicas_as_run_replicas_does(tmp_path: Path) -> None:
    """The static targets in observability/prometheus/prometheus.yml document `make run-replicas N=3`: they must
    be exactly what the targets file holds for it, or the file would describe a stack that does not exist."""
    source = yaml.safe_load((CONFIG_DIR / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in source["scrape_configs"] if j["job_name"] == "load-harness")
    layout = StackLayout(var_dir=tmp_path, config_dir=CONFIG_DIR)  # the default ports
    write_targets(layout, replicas_of(layout, 3))
    assert job["static_configs"] == json.loads(layout.targets_file.read_text())
    assert [group["labels"] for group in job["static_configs"]] == [
        replica_labels(f"load-harness-{i}") for i in (1, 2, 3)
    ]


def test_receiver_secrets_point_at_dummy_files_under_var(tmp_path: Path) -> None:
    config_dir = tmp_path / "observability"
    (config_dir / "alertmanager").mkdir(parents=True)
    source = {
        "global": {"slack_api_url_file": "/run/secrets/slack"},
        "route": {"receiver": "pager"},
        "receivers": [{"name": "pager", "pagerduty_configs": [{"routing_key_file": "/run/secrets/pagerduty"}]}],
        "templates": ["templates/*.tmpl"],
    }
    (config_dir / "alertmanager" / "alertmanager.yml").write_text(yaml.safe_dump(source))
    layout = layout_in(tmp_path / "var", config_dir)

    config = alertmanager_config(layout, say=print)

    slack = Path(config["global"]["slack_api_url_file"])
    pagerduty = Path(config["receivers"][0]["pagerduty_configs"][0]["routing_key_file"])
    for dummy in (slack, pagerduty):
        assert dummy.parent == layout.observability_dir / "secrets"
        assert dummy.stat().st_mode & 0o777 == 0o600
    assert slack.read_text() == DUMMY_URL  # a URL setting gets a URL, refused at once on the discard port
    assert pagerduty.read_text() != ""
    assert config["templates"] == [str(config_dir / "alertmanager" / "templates/*.tmpl")]
    assert config["route"] == {"receiver": "pager"}


def test_without_the_repository_file_alertmanager_gets_a_receiver_that_notifies_no_one(tmp_path: Path) -> None:
    said: list[str] = []
    config = alertmanager_config(layout_in(tmp_path, tmp_path / "nowhere"), say=said.append)
    assert config["route"]["receiver"] == config["receivers"][0]["name"]
    assert "does not exist yet" in said[0]


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[ProcessRecord]:
    record, proc = spawn("sleeper", ["sleep", "60"], tmp_path / "sleeper.log")
    yield record
    proc.kill()
    proc.wait()


def test_a_reused_pid_is_not_ours_and_is_never_signalled(sleeper: ProcessRecord) -> None:
    # The same pid, started at another time: what a record looks like once its process died and the pid was reused.
    stranger = sleeper.model_copy(update={"started_at": sleeper.started_at - 3600})
    assert not is_running(stranger)
    assert stop([stranger]) == []
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_ZOMBIE

    assert stop([sleeper]) == [sleeper]
    assert not is_running(sleeper)


class _NamedHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{self.server.name} {self.headers['Host']}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstreams() -> Iterator[list[int]]:
    servers = []
    for name in ("one", "two"):
        server = ThreadingHTTPServer((LOOPBACK, 0), _NamedHandler)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [server.server_address[1] for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_fallback_balancer_spreads_connections_and_keeps_the_host(upstreams: list[int], tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "load_harness.localstack.balancer", "--listen", str(port)]
    command += [arg for upstream in upstreams for arg in ("--upstream", str(upstream))]
    record, proc = spawn("balancer", command, tmp_path / "balancer.log")
    try:
        url = f"http://{LOOPBACK}:{port}/"
        assert wait_for(lambda: requests.get(url, timeout=HTTP_TIMEOUT_S).ok, timeout=60), record.log
        answers = [requests.get(url, headers={"Host": "localhost:8080"}, timeout=HTTP_TIMEOUT_S).text for _ in range(4)]
    finally:
        stop([record])
        proc.wait()
    assert {answer.split()[0] for answer in answers} == {"one", "two"}
    assert {answer.split()[1] for answer in answers} == {"localhost:8080"}
