"""The local observability stack, for real: `python -m load_harness.localstack` (what `make run-replicas`,
`make observability` and `make observability-down` run) with its var directory in tmp and free ports.

Three replicas behind nginx and Debian's prometheus, prometheus-pushgateway and prometheus-alertmanager (1 s scrape
interval); .ci/run installs all of them, so nothing here skips for a missing binary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from lh_support import wait_for
from load_harness.localstack.layout import INSTALL_HINT, LOOPBACK, port_in_use
from load_harness.localstack.records import ProcessRecord, RecordBook
from load_harness.server.launch import free_port

REPO = Path(__file__).resolve().parents[4]
CONFIG_DIR = REPO / "observability"
PODS = {"load-harness-1", "load-harness-2", "load-harness-3"}
# Generous: they only bound how long a broken stack hangs the test on a stalled shared machine.
COMMAND_TIMEOUT_S = 120
DEADLINE_S = 60
HTTP_TIMEOUT_S = 10
REQUESTS_THROUGH_BALANCER = 30
_POD_ITEM = re.compile(r'data-pod="([^"]+)"')
_PODS_FIGURE = re.compile(r'data-figure="Pods">\s*<dt>Pods</dt>\s*<dd>([^<]+)</dd>')


@dataclass(frozen=True)
class LocalStack:
    var_dir: Path
    options: list[str]
    balancer: str
    prometheus: str

    def run(self, *command: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_stack_command(self.var_dir, [*self.options, *command], path=path)

    def records(self) -> list[ProcessRecord]:
        return (
            RecordBook(self.var_dir / "replicas" / "pids").load()
            + RecordBook(self.var_dir / "observability" / "pids").load()
        )

    def targets(self) -> list[dict[str, object]]:
        response = requests.get(f"{self.prometheus}/api/v1/targets", params={"state": "active"}, timeout=HTTP_TIMEOUT_S)
        targets: list[dict[str, object]] = response.json()["data"]["activeTargets"]
        return targets

    def query(self, expr: str) -> dict[str, float]:
        """An instant query's result by its `pod` label."""
        response = requests.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=HTTP_TIMEOUT_S)
        body = response.json()
        assert body["status"] == "success", body
        return {item["metric"].get("pod", ""): float(item["value"][1]) for item in body["data"]["result"]}


def stack_env(path: str | None = None) -> dict[str, str]:
    """The caller's environment without what would point the replicas at another store, key or metrics dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROMETHEUS_MULTIPROC", "LOAD_HARNESS_", "API_KEY")) and k != "DATABASE_URL"
    }
    if path is not None:
        env["PATH"] = path
    return env


def run_stack_command(var_dir: Path, args: list[str], path: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "load_harness.localstack", "--var-dir", str(var_dir), "--config-dir",
               str(CONFIG_DIR), *args]  # fmt: skip
    return subprocess.run(
        command, env=stack_env(path), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def free_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports (the replicas' ports follow one another)."""
    for _ in range(100):
        first = free_port()
        if first + count < 65536 and not any(port_in_use(first + i) for i in range(count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def port_options(replicas: int) -> list[str]:
    ports = {
        "--balancer-port": free_port(),
        "--first-replica-port": free_block(replicas),
        "--prometheus-port": free_port(),
        "--pushgateway-port": free_port(),
        "--alertmanager-port": free_port(),
    }
    return [arg for flag, port in ports.items() for arg in (flag, str(port))]


def start_stack(var_dir: Path, replicas: int) -> LocalStack:
    options = port_options(replicas)
    ports = dict(zip(options[::2], options[1::2], strict=True))
    stack = LocalStack(
        var_dir,
        options,
        f"http://{LOOPBACK}:{ports['--balancer-port']}",
        f"http://{LOOPBACK}:{ports['--prometheus-port']}",
    )
    for command in (["replicas", "--count", str(replicas)], ["up", "--scrape-interval", "1s"]):
        done = stack.run(*command)
        if done.returncode != 0:
            stack.run("down")
            raise AssertionError(f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return stack


def processes_left(records: list[ProcessRecord], descendants: list[psutil.Process]) -> list[str]:
    left = []
    for proc in [*(psutil.Process(r.pid) for r in records if psutil.pid_exists(r.pid)), *descendants]:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {proc.name()}")
        except psutil.NoSuchProcess:
            continue
    return left


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = start_stack(tmp_path_factory.mktemp("localstack"), replicas=3)
    yield running
    running.run("down")


@pytest.mark.slow
def test_prometheus_scrapes_three_replicas_with_distinct_pod_names(stack: LocalStack) -> None:
    def all_up() -> bool:
        targets = stack.targets()
        return len(targets) == 6 and all(t["health"] == "up" for t in targets)

    assert wait_for(all_up, timeout=DEADLINE_S), stack.targets()
    targets = stack.targets()
    pods = [t["labels"]["pod"] for t in targets if t["labels"]["job"] == "load-harness"]  # type: ignore[index]
    assert sorted(pods) == sorted(PODS)
    assert {t["labels"]["job"] for t in targets} == {  # type: ignore[index]
        "load-harness",
        "pushgateway",
        "alertmanager",
        "prometheus",
    }
    assert set(stack.query('up{job="load-harness"} == 1')) == PODS


@pytest.mark.slow
def test_requests_through_the_balancer_reach_every_replica(stack: LocalStack) -> None:
    answered_by = []
    with requests.Session() as session:  # one keep-alive client: nginx still balances each request
        for _ in range(REQUESTS_THROUGH_BALANCER):
            response = session.post(f"{stack.balancer}/load/cpu/work", json={"cpu_ms": 1}, timeout=HTTP_TIMEOUT_S)
            assert response.status_code == 200, response.text
            assert response.json()["pod_name"] == response.headers["X-Pod-Name"]
            answered_by.append(response.json()["pod_name"])
    assert set(answered_by) == PODS, answered_by

    # Prometheus sees the same split in each pod's own counter, under the pod label the scrape attached.
    expr = 'sum by (pod) (flask_http_request_total{job="load-harness", path="/load/cpu/work"})'
    expected = {pod: float(answered_by.count(pod)) for pod in PODS}
    assert wait_for(lambda: stack.query(expr) == expected, timeout=DEADLINE_S), (stack.query(expr), expected)


@pytest.mark.slow
def test_the_balancer_passes_the_clients_host_header(stack: LocalStack) -> None:
    port = stack.balancer.rsplit(":", 1)[1]
    named = requests.get(f"{stack.balancer}/version", headers={"Host": f"localhost:{port}"}, timeout=HTTP_TIMEOUT_S)
    assert named.status_code == 200
    # Were the Host rewritten to the upstream's address, a rebinding name would pass; it must get the 421.
    rebound = requests.get(f"{stack.balancer}/version", headers={"Host": "attacker.example"}, timeout=HTTP_TIMEOUT_S)
    assert rebound.status_code == 421


@pytest.mark.slow
def test_a_second_start_says_it_is_already_running(stack: LocalStack) -> None:
    before = {(r.name, r.pid) for r in stack.records()}
    monitoring = stack.run("up", "--scrape-interval", "1s")
    replicas = stack.run("replicas", "--count", "3")
    assert monitoring.returncode == 0, monitoring.stderr
    assert replicas.returncode == 0, replicas.stderr
    assert "already running" in monitoring.stdout
    assert "already running" in replicas.stdout
    assert {(r.name, r.pid) for r in stack.records()} == before
    refused = stack.run("replicas", "--count", "2")
    assert refused.returncode == 1
    assert "3 replicas are already running" in refused.stderr


@pytest.mark.slow
def test_the_cluster_view_through_the_balancer_shows_three_pods(stack: LocalStack) -> None:
    def cluster_view(partial: str) -> str:
        page = requests.get(
            f"{stack.balancer}/ui/partials/{partial}", params={"scope": "cluster"}, timeout=HTTP_TIMEOUT_S
        )
        assert page.status_code == 200
        return page.text

    def listed_pods() -> set[str]:
        return set(_POD_ITEM.findall(cluster_view("pods")))

    def pods_figure() -> str:
        found = _PODS_FIGURE.search(cluster_view("metrics"))
        return found.group(1).strip() if found else ""

    assert wait_for(lambda: listed_pods() == PODS, timeout=DEADLINE_S), listed_pods()
    assert wait_for(lambda: pods_figure() == "3", timeout=DEADLINE_S), pods_figure()


@pytest.mark.slow
def test_down_stops_every_process_it_started(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, replicas=1)
    records = stack.records()
    assert {r.name for r in records} == {
        "load-harness-1",
        "balancer",
        "prometheus",
        "prometheus-pushgateway",
        "prometheus-alertmanager",
    }
    # serve's supervisor and gunicorn, nginx's worker: everything under the recorded processes must go too.
    descendants = [child for r in records for child in psutil.Process(r.pid).children(recursive=True)]
    assert descendants

    done = stack.run("down")

    assert done.returncode == 0, done.stderr
    for name in ("load-harness-1", "balancer", "prometheus", "prometheus-pushgateway", "prometheus-alertmanager"):
        assert f"stopped {name} (pid " in done.stdout
    assert processes_left(records, descendants) == []
    assert stack.records() == []
    assert (tmp_path / "observability" / "targets" / "load-harness.json").read_text().strip() == "[]"
    again = stack.run("down")
    assert again.returncode == 0
    assert "nothing was running" in again.stdout


def test_a_missing_binary_names_the_debian_packages(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_stack_command(tmp_path / "var", [*port_options(1), "up"], path=str(empty))
    assert done.returncode == 1
    assert "not installed: prometheus, prometheus-pushgateway, prometheus-alertmanager" in done.stderr
    assert INSTALL_HINT in done.stderr
    assert RecordBook(tmp_path / "var" / "observability" / "pids").load() == []
