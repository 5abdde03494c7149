"""The Grafana dashboards of observability/dashboards/: generated, valid, parsed by promtool, and answered by a real
Prometheus.

- the committed JSON is what build.py generates now, and a valid dashboard model;
- every panel's query, with Grafana's variables substituted, passes `promtool check rules` as a recording rule
  (and a dashboard with a broken query fails the same check, naming its panel);
- every panel's query returns data from a real Prometheus scraping 3 LoadHarness pods (tests/observability_stack.py)
  with the repo's recording rules, a Pushgateway holding `fleet dora push`'s metrics and a driver run's summary,
  and recorded kube-state-metrics and cAdvisor pages (fixtures/dashboards/*.prom, exactly as those exporters print
  them, naming the stack's 3 pods and one kube-system pod) served live, each sample re-stamped with the time of the
  scrape (the kubelet prints a timestamp; a recorded one would be too old to ingest).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_servers import free_port, running
from observability_stack import NOT_ISOLATED, Stack, start_stack

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "observability" / "dashboards"
BUILD = BOARDS / "build.py"
RULES = sorted((ROOT / "observability" / "rules").glob("*.rules.yaml"))
FIXTURES = Path(__file__).parent / "fixtures" / "dashboards"
DORA_EVENTS = ROOT / "tools" / "fleet" / "tests" / "fixtures" / "dora" / "events.json"
PROMTOOL = "/usr/bin/promtool"
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
BIN = Path(sys.executable).parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# What Grafana puts in place of its built-in variables, at a dashboard's default range (now-1h).
GRAFANA_GLOBALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
# Generous: only bounds how long a broken stack hangs the test on a stalled shared machine.
DEADLINE_S = 90.0
HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Query:
    board: str
    panel: str
    panel_id: int
    ref: str
    expr: str  # as Grafana would send it: variables substituted

    @property
    def record(self) -> str:
        """A recording rule name that says where the query comes from."""
        return f"dashboard:{re.sub(r'[^a-zA-Z0-9_]', '_', self.board)}:panel_{self.panel_id}_{self.ref}"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def committed() -> dict[str, dict[str, Any]]:
    return {path.name: load(path) for path in sorted(BOARDS.glob("*.json"))}


def substitutions(board: dict[str, Any]) -> dict[str, str]:
    """Each dashboard variable's default: "All" is its allValue, otherwise its current value."""
    values = dict(GRAFANA_GLOBALS)
    for variable in board["templating"]["list"]:
        if variable["type"] == "datasource":
            continue
        values[variable["name"]] = variable["allValue"] if variable.get("includeAll") else variable["current"]["value"]
    return values


def substitute(expr: str, values: dict[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise AssertionError(f"{where}: ${name} is neither a dashboard variable nor one of {sorted(values)}")
        return values[name]

    return VARIABLE.sub(one, expr)


def queries(board: dict[str, Any]) -> list[Query]:
    values = substitutions(board)
    found = []
    for panel in board["panels"]:
        for query in panel.get("targets", []):
            where = f"{board['uid']} panel {panel['title']!r} ({query['refId']})"
            expr = substitute(query["expr"], values, where)
            found.append(Query(board["uid"], panel["title"], panel["id"], query["refId"], expr))
    return found


def promtool_check(tmp_path: Path, found: list[Query]) -> subprocess.CompletedProcess[str]:
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": q.record, "expr": q.expr} for q in found]}]}
    path = tmp_path / "dashboard-queries.rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


ALL_QUERIES = [q for board in committed().values() for q in queries(board)]


# --- generated and valid ---------------------------------------------------------------------------------------


def test_committed_json_is_what_build_generates() -> None:
    result = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(committed()) == {
        "load-harness-overview.json",
        "load-harness-runs.json",
        "dora.json",
        "platform-cost.json",
    }


def test_drift_check_names_the_file_that_differs(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path)], check=True, capture_output=True, timeout=120)
    edited = tmp_path / "dora.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("DORA metrics", "DORA"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(BUILD), "--check", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "dora.json" in result.stderr
    assert "load-harness-overview.json" not in result.stderr


@pytest.mark.parametrize("name", sorted(committed()))
def test_dashboard_is_a_valid_grafana_model(name: str) -> None:
    board = committed()[name]
    assert isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36
    assert 0 < len(board["uid"]) <= 40
    assert board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), f"{name}: panel ids repeat: {ids}"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, f"{name} {panel['title']!r}: datasource {panel.get('datasource')}"
        assert panel["targets"], f"{name} {panel['title']!r} has no query"
        assert panel.get("description"), f"{name} {panel['title']!r} has no description"
        refs = [query["refId"] for query in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{name} {panel['title']!r}: refIds {refs}"
        assert all(refs), f"{name} {panel['title']!r}: refIds {refs}"
        for query in panel["targets"]:
            assert query["expr"].strip()
            assert query["datasource"] == DATASOURCE


def test_uids_are_unique_across_dashboards() -> None:
    uids = [board["uid"] for board in committed().values()]
    assert len(uids) == len(set(uids))


def test_cost_panels_name_their_prices_and_where_they_come_from() -> None:
    cost = committed()["platform-cost.json"]
    for panel in cost["panels"]:
        exprs = " ".join(query["expr"] for query in panel.get("targets", []))
        if re.search(r"\* \d+\.\d{4,}", exprs):  # a price constant
            assert "pricing-eu-west-2.yaml" in panel["description"], panel["title"]
            assert "ec2.t3.large.spot" in panel["description"], panel["title"]


# --- every query parses ------------------------------------------------------------------------------------------


def test_every_query_passes_promtool(tmp_path: Path) -> None:
    assert len(ALL_QUERIES) > 40
    result = promtool_check(tmp_path, ALL_QUERIES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(ALL_QUERIES)} rules found" in result.stdout


def test_a_broken_query_fails_promtool_naming_its_panel(tmp_path: Path) -> None:
    broken = queries(load(FIXTURES / "broken-dashboard.json"))
    result = promtool_check(tmp_path, broken)
    assert result.returncode != 0
    assert broken[0].record in result.stdout + result.stderr


def test_an_unknown_variable_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"\$pod is neither"):
        substitute('up{pod="$pod"}', dict(GRAFANA_GLOBALS), "test")


# --- every query returns data ------------------------------------------------------------------------------------


@contextmanager
def exporter(fixture: Path) -> Iterator[str]:
    """Serve a recorded /metrics page on a free port; yields host:port. Each sample's trailing timestamp becomes now."""
    text = fixture.read_text(encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now_ms = str(int(time.time() * 1000))
            body = re.sub(r" \d{13}$", " " + now_ms, text, flags=re.MULTILINE).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(url: str, body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return int(response.status)


def run_cli(*argv: str) -> None:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("dashboards")
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    # An empty --persistence.file keeps the gateway in memory (Debian's default writes to /var/lib).
    argv = [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    with (
        running(argv, f"{gateway}/-/ready", "prometheus-pushgateway"),
        exporter(FIXTURES / "kube-state-metrics.prom") as ksm,
        exporter(FIXTURES / "cadvisor.prom") as kubelet,
    ):
        run_cli(str(BIN / "fleet"), "dora", "push", "--events", str(DORA_EVENTS), "--pushgateway", gateway,
                "--now", "2026-03-01T00:00:00Z", "--timeout", "30")  # fmt: skip
        targets = [("pushgateway", f"127.0.0.1:{port}"), ("kube-state-metrics", ksm), ("kubelet", kubelet)]
        with start_stack(tmp_path, pods=3, extra_targets=targets, rule_files=RULES) as running_stack:
            pods = running_stack.pods
            # Traffic on every pod, one CPU job (on pod-1), and a driver run against pod-0 whose summary is pushed.
            for pod in pods:
                for _ in range(5):
                    assert send(f"{pod.url}/") == 200
            cpu_job = {"cores": 1, "utilization": 20, "duration_seconds": 300}
            assert send(f"{pods[1].url}/load/cpu", cpu_job) in (200, 201, 202)
            run_cli(str(BIN / "load-harness"), "drive", f"{pods[0].url}/load/cpu/work", "--rate", "20",
                    "--duration", "3s", "--cpu-ms", "1", "--pushgateway", gateway)  # fmt: skip
            yield running_stack


def _needs_memory_limit(query: Query) -> bool:
    return "load_harness_container_memory_limit_bytes" in query.expr


@pytest.mark.slow
@pytest.mark.parametrize("query", ALL_QUERIES, ids=[f"{q.board}/{q.panel}/{q.ref}" for q in ALL_QUERIES])
def test_every_panel_query_returns_data(stack: Stack, query: Query) -> None:
    if _needs_memory_limit(query) and not stack.isolated:
        pytest.skip(NOT_ISOLATED)  # without a cgroup of its own a pod has no memory limit to divide by
    try:
        stack.wait_for(query.expr, lambda samples: len(samples) > 0, timeout=DEADLINE_S)
    except AssertionError as exc:
        raise AssertionError(
            f"panel {query.panel!r} of {query.board} (query {query.ref}) returned no data: {exc}"
        ) from None


@pytest.mark.slow
def test_per_pod_panels_show_the_app_pods_only(stack: Stack) -> None:
    """The cAdvisor and kube-state-metrics panels keep LoadHarness's pods (not coredns) and real containers only:
    each pod's working set is 128 MiB of a 256 MiB request, 50 %, and would be 101 % with the pod-level cgroup and
    the pause container counted too."""
    memory = next(q for q in ALL_QUERIES if q.panel.startswith("Memory per pod, % of request") and q.ref == "A")
    samples = stack.wait_for(memory.expr, lambda found: len(found) == 3, timeout=DEADLINE_S)
    assert {s.labels["pod"] for s in samples} == {p.name for p in stack.pods}
    assert all(s.value == pytest.approx(50.0) for s in samples), samples


@pytest.mark.slow
def test_cpu_burning_panel_shows_the_job_on_its_pod(stack: Stack) -> None:
    burning = next(q for q in ALL_QUERIES if q.panel == "CPU cores burning")
    samples = stack.wait_for(burning.expr, lambda found: len(found) == 3, timeout=DEADLINE_S)
    assert {s.labels["pod"]: s.value > 0 for s in samples} == {"pod-0": False, "pod-1": True, "pod-2": False}
