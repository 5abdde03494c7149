"""`fleet cost allocate` against the real prometheus binary, loaded with a recorded week (allocate_metrics.py).

The expected costs are computed by hand below from the pricing file's node prices and the generated requests and
usage, written out container by container, so a wrong rule in the model (request instead of max(request, usage),
the whole window for a pod that lived half of it, the pod-level cgroup counted twice, shared cost spread evenly)
changes a number here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from allocate_metrics import (
    NODE_A,
    NODE_B,
    PROMETHEUS,
    PROMTOOL,
    WEEK_END,
    WEEK_START,
    build_tsdb,
    prometheus_over,
    write_openmetrics,
)
from fleet import exits
from fleet.cost import app
from fleet.cost.pricing import load_pricing
from local_servers import free_port
from typer.testing import CliRunner

pytestmark = pytest.mark.slow
AT = WEEK_END.isoformat()

# OpenCost's default prices per vCPU-hour and per GiB-hour; only their ratio splits a node's price.
RATIO = 0.031611 / 0.004237


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded week as OpenMetrics text."""
    for binary in (PROMETHEUS, PROMTOOL):
        if not Path(binary).exists():
            pytest.skip(f"{binary} not found: apt-get install prometheus")
    path = tmp_path_factory.mktemp("allocate") / "week.om"
    write_openmetrics(path)
    return path


@pytest.fixture(scope="module")
def tsdb(week: Path) -> Path:
    build_tsdb(week, week.parent / "tsdb")
    return week.parent / "tsdb"


@pytest.fixture(scope="module")
def prometheus(tsdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_over(tsdb, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["allocate", *args])


def run_json(url: str, *args: str) -> dict[str, Any]:
    result = run("--prometheus", url, "--at", AT, "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def flat(text: str) -> str:
    return " ".join(text.split())


def node_prices() -> dict[str, tuple[float, float, float]]:
    """(hourly, per vCPU-hour, per GiB-hour) of each node: OpenCost's split, ram = price / (vcpus x ratio + GiB)."""
    pricing = load_pricing()
    a = pricing.instance_rate("t3.large", "on-demand")  # node A: eks.amazonaws.com/capacityType=ON_DEMAND
    b = pricing.instance_rate("t3.medium", "spot")  # node B: karpenter.sh/capacity-type=spot
    ram_a = a / (2 * RATIO + 8)  # 2 vCPU, 8 GiB
    ram_b = b / (2 * RATIO + 4)  # 2 vCPU, 4 GiB
    return {"a": (a, RATIO * ram_a, ram_a), "b": (b, RATIO * ram_b, ram_b)}


def expected_week() -> dict[str, Any]:
    """The whole week (168 h), by hand. Each term is max(request, usage) x hours, in core-hours or GiB-hours."""
    (a, cpu_a, ram_a), (b, cpu_b, ram_b) = node_prices()["a"], node_prices()["b"]
    workloads = {
        # coredns on A: requests 0.125 cores / 0.125 GiB, uses 0.0625 / 0.0625: requests win.
        ("kube-system", "Deployment/coredns"): 0.125 * 168 * cpu_a + 0.125 * 168 * ram_a,
        # aws-node on A and on B: CPU request 0.0625 > use 0.03125; RAM use 0.125 > request 0.0625.
        ("kube-system", "DaemonSet/aws-node"): (0.0625 * 168 * cpu_a + 0.125 * 168 * ram_a)
        + (0.0625 * 168 * cpu_b + 0.125 * 168 * ram_b),
        # prometheus on A: CPU request 0.25 > use 0.125; RAM use 1.5 GiB > request 1.0.
        ("monitoring", "StatefulSet/prometheus"): 0.25 * 168 * cpu_a + 1.5 * 168 * ram_a,
        # web on A, two containers. web: request 0.5 > average use (0.25 x 84 h + 0.375 x 84 h) / 168 h = 0.3125;
        # RAM request 1.0 > use 0.5. log-shipper: 0.0625 cores, 0.125 GiB, request = use. The pod-level cgroup
        # series (container="", 4 GiB) and the pause container are not charged.
        ("shop", "Deployment/web"): (0.5 * 168 * cpu_a + 1.0 * 168 * ram_a)
        + (0.0625 * 168 * cpu_a + 0.125 * 168 * ram_a),
        # api on B: requests 0.25 / 0.5 GiB beat use 0.125 / 0.25.
        ("shop", "Deployment/api"): 0.25 * 168 * cpu_b + 0.5 * 168 * ram_b,
        # backfill on B lived 84 h of the 168, using 1.0 core and 1.0 GiB against requests of 0.5 / 0.5: usage wins.
        ("batch", "Job/backfill"): 1.0 * 84 * cpu_b + 1.0 * 84 * ram_b,
    }
    namespaces: dict[str, float] = {}
    for (ns, _), usd in workloads.items():
        namespaces[ns] = namespaces.get(ns, 0.0) + usd
    # Shared: kube-system and monitoring, spread over shop and batch in proportion to their own cost.
    pool = namespaces["kube-system"] + namespaces["monitoring"]
    tenants = namespaces["shop"] + namespaces["batch"]
    shared = {
        "kube-system": -namespaces["kube-system"],
        "monitoring": -namespaces["monitoring"],
        "shop": pool * namespaces["shop"] / tenants,
        "batch": pool * namespaces["batch"] / tenants,
    }
    on_b = (0.0625 * 168 * cpu_b + 0.125 * 168 * ram_b) + workloads[("shop", "Deployment/api")]
    on_b += workloads[("batch", "Job/backfill")]
    node_cost = {"a": 168 * a, "b": 168 * b}
    idle = {"a": node_cost["a"] - (sum(workloads.values()) - on_b), "b": node_cost["b"] - on_b}
    return {"workloads": workloads, "namespaces": namespaces, "shared": shared, "node_cost": node_cost, "idle": idle}


def close(value: float) -> Any:
    return pytest.approx(value, abs=2e-6)  # the output rounds dollars to 6 decimals


def test_the_week_allocates_as_computed_by_hand(prometheus: str) -> None:
    data = run_json(prometheus, "--window", "7d")
    want = expected_week()
    assert data["start"] == WEEK_START.isoformat()
    nodes = {n["node"]: n for n in data["nodes"]}
    a, b = nodes[NODE_A.name], nodes[NODE_B.name]
    assert (a["instance_type"], a["capacity"], a["hours"]) == ("t3.large", "on-demand", 168)
    assert (b["instance_type"], b["capacity"], b["hours"]) == ("t3.medium", "spot", 168)
    assert a["cost_usd"] == close(want["node_cost"]["a"])
    assert a["idle_usd"] == close(want["idle"]["a"])
    assert b["idle_usd"] == close(want["idle"]["b"])
    # The split gives back the node's price: 2 vCPU x cpu price + 8 GiB x RAM price.
    assert 2 * a["cpu_core_hour_usd"] + 8 * a["ram_gib_hour_usd"] == pytest.approx(a["hourly_usd"], abs=1e-7)

    namespaces = {ns["namespace"]: ns for ns in data["namespaces"]}
    assert set(namespaces) == {"kube-system", "monitoring", "shop", "batch"}
    for ns, usd in want["namespaces"].items():
        assert namespaces[ns]["allocated_usd"] == close(usd), ns
        assert namespaces[ns]["shared_usd"] == close(want["shared"][ns]), ns
        assert namespaces[ns]["total_usd"] == close(usd + want["shared"][ns]), ns
    assert namespaces["kube-system"]["shared"]
    assert not namespaces["shop"]["shared"]
    # The half-week pod's hours: 84 h x max(0.5 request, 1.0 used) cores.
    assert namespaces["batch"]["cpu_core_hours"] == 84.0

    workloads = {(w["namespace"], f"{w['kind']}/{w['name']}"): w for w in data["workloads"]}
    assert set(workloads) == set(want["workloads"])
    for key, usd in want["workloads"].items():
        assert workloads[key]["allocated_usd"] == close(usd), key
    assert workloads[("kube-system", "DaemonSet/aws-node")]["pods"] == 2
    # A workload carries its namespace's shared amount by its part of the namespace's own cost.
    web_part = want["workloads"][("shop", "Deployment/web")] / want["namespaces"]["shop"]
    assert workloads[("shop", "Deployment/web")]["shared_usd"] == close(want["shared"]["shop"] * web_part)

    totals = data["totals"]
    assert totals["node_cost_usd"] == close(want["node_cost"]["a"] + want["node_cost"]["b"])
    assert totals["idle_usd"] == close(want["idle"]["a"] + want["idle"]["b"])
    # Everything adds up to the bill: tenants' totals (shared spread in) + idle = what the nodes cost.
    tenant_totals = sum(ns["total_usd"] for ns in data["namespaces"])
    assert tenant_totals + totals["idle_usd"] == close(totals["node_cost_usd"])
    assert data["warnings"] == []


def test_csv_file_and_csv_format_carry_the_same_figures(prometheus: str, tmp_path: Path) -> None:
    out = tmp_path / "chargeback.csv"
    result = run("--prometheus", prometheus, "--at", AT, "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert "Idle (not spread)" in result.stdout  # the table still prints
    streamed = run("--prometheus", prometheus, "--at", AT, "--format", "csv")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == out.read_text(encoding="utf-8")

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    want = expected_week()
    by_ns = {r["namespace"]: r for r in rows if r["level"] == "namespace"}
    for ns, usd in want["namespaces"].items():
        assert float(by_ns[ns]["allocated_usd"]) == close(usd)
        assert float(by_ns[ns]["total_usd"]) == close(usd + want["shared"][ns])
    by_workload = {(r["namespace"], f"{r['kind']}/{r['name']}"): r for r in rows if r["level"] == "workload"}
    for key, usd in want["workloads"].items():
        assert float(by_workload[key]["allocated_usd"]) == close(usd)
    idle = {r["name"]: float(r["total_usd"]) for r in rows if r["level"] == "idle"}
    assert idle == {NODE_A.name: close(want["idle"]["a"]), NODE_B.name: close(want["idle"]["b"])}


def test_a_window_over_part_of_a_pods_life_charges_that_part(prometheus: str) -> None:
    # 72 h to 96 h: backfill ran until hour 84, so 12 h of it fall inside; web's use rose to 0.375 at hour 84.
    at = (WEEK_START + timedelta(hours=96)).isoformat()
    result = run("--prometheus", prometheus, "--at", at, "--window", "1d", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    _, cpu_b, ram_b = node_prices()["b"]
    backfill = next(w for w in data["workloads"] if w["name"] == "backfill")
    assert backfill["cpu_core_hours"] == 12.0  # max(0.5, 1.0) x 12 h
    assert backfill["allocated_usd"] == close(1.0 * 12 * cpu_b + 1.0 * 12 * ram_b)
    assert {n["hours"] for n in data["nodes"]} == {24}

    # The last day: backfill is gone altogether.
    last_day = run_json(prometheus, "--window", "24h")
    assert "batch" not in {ns["namespace"] for ns in last_day["namespaces"]}


def test_shared_namespaces_flag_changes_who_pays(prometheus: str) -> None:
    want = expected_week()["namespaces"]
    unshared = run_json(prometheus, "--shared-namespaces", "")
    assert all(ns["shared_usd"] == 0 for ns in unshared["namespaces"])
    assert {ns["namespace"]: ns["total_usd"] for ns in unshared["namespaces"]} == {k: close(v) for k, v in want.items()}

    # Only kube-system shared: monitoring is a tenant now and carries part of kube-system by its own weight.
    only_kube_system = run_json(prometheus, "--shared-namespaces", "kube-system")
    shares = {ns["namespace"]: ns["shared_usd"] for ns in only_kube_system["namespaces"]}
    tenants = want["shop"] + want["batch"] + want["monitoring"]
    assert shares["monitoring"] == close(want["kube-system"] * want["monitoring"] / tenants)
    assert shares["kube-system"] == close(-want["kube-system"])


def test_a_node_type_missing_from_the_pricing_file_is_an_error_naming_it(prometheus: str, tmp_path: Path) -> None:
    pricing = load_pricing().model_dump(mode="json")
    del pricing["ec2"]["t3.medium"]
    path = tmp_path / "pricing.yaml"
    path.write_text(yaml.safe_dump(pricing), encoding="utf-8")
    result = run("--prometheus", prometheus, "--at", AT, "--pricing", str(path))
    assert result.exit_code == exits.BAD_INPUT
    message = flat(result.stderr)
    assert NODE_B.name in message
    assert "t3.medium" in message
    assert str(path) in message


def test_no_data_in_the_window_is_a_clear_message_not_a_zero_table(prometheus: str) -> None:
    result = run("--prometheus", prometheus, "--at", "2026-10-01T00:00:00Z", "--window", "7d")
    assert result.exit_code == exits.BAD_INPUT
    assert "no kube_node_labels series" in flat(result.stderr)
    assert "Namespace" not in result.stdout


def test_a_query_prometheus_refuses_is_a_remote_error_naming_it(week: Path, tmp_path: Path) -> None:
    # A second Prometheus over its own blocks of the week, allowed to load only 100 samples per query: the first
    # query of the week needs 4,032, so Prometheus answers 422 with its reason.
    build_tsdb(week, tmp_path / "tsdb")
    with prometheus_over(tmp_path / "tsdb", tmp_path, "--query.max-samples=100") as url:
        result = run("--prometheus", url, "--at", AT)
    assert result.exit_code == exits.REMOTE_ERROR
    message = flat(result.stderr)
    assert "count_over_time(kube_node_labels[604799999ms:300s])" in message
    assert "too many samples" in message


def test_unreachable_prometheus_is_a_remote_error_naming_the_query() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run("--prometheus", url, "--at", AT, "--timeout", "5")
    assert result.exit_code == exits.REMOTE_ERROR
    message = flat(result.stderr)
    assert f"cannot reach Prometheus at {url}" in message
    assert "kube_node_labels" in message


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--window", "30m"], "--window '30m': must be 1h to 90d"),
        (["--window", "91d"], "--window '91d': must be 1h to 90d"),
        (["--window", "7days"], "--window '7days' is not a Prometheus duration"),
        (["--window", "30m1h"], "--window '30m1h' is not a Prometheus duration"),
        (["--step", "10s"], "--step '10s': must be 1m to 1h"),
        (["--at", "last monday"], "--at 'last monday': expected an RFC 3339 time"),
        (["--at", "2026-11-09T00:00:00"], "--at '2026-11-09T00:00:00': expected an RFC 3339 time with a zone"),
        (["--cpu-ram-ratio", "0"], "--cpu-ram-ratio 0: must be above 0"),
        (["--format", "csv", "--json"], "--json and --format csv"),
    ],
)
def test_bad_input_names_the_flag_and_the_value(args: list[str], named: str) -> None:
    result = run("--prometheus", "http://127.0.0.1:9", *args)
    assert result.exit_code == exits.BAD_INPUT, result.output
    assert named in flat(result.stderr)
    assert "Traceback" not in result.output


def test_a_prometheus_url_that_is_not_http_is_bad_input() -> None:
    result = run("--prometheus", "file:///etc/passwd")
    assert result.exit_code == exits.BAD_INPUT
    assert "--prometheus 'file:///etc/passwd': expected an http:// or https:// URL" in flat(result.stderr)
