"""The OpenAPI document, checked by a third party: schemathesis runs every check it has (`--checks all`) against a
real server, from the /openapi.json that server serves, and must find nothing.

The server runs with small limits (SERVER_ENV), so that what generated requests start stays small: one CPU core of
budget, 64 MiB of memory for jobs and syncs together. schemathesis.toml and schemathesis_hooks.py say what else
keeps the run short and why each choice hides no check. The fast tests below pin the spec properties that the run
relies on, so a regression shows up without a server too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from lh_support import RunningServer, start_server
from load_harness.cgroups import read_limits

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "schemathesis_hooks.py"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MIN_CASES = 1_000
MEMORY_BUDGET_MB = 64
RUN_TIMEOUT_S = 480  # a passing run takes well under a minute on an idle 2-core machine


def server_env() -> dict[str, str]:
    """Limits that keep generated jobs small on any machine: a CPU budget of one core and 64 MiB of memory."""
    container = read_limits()
    effective_mb = container.effective_memory_bytes // 2**20
    return {
        "MEMORY_SAFETY_MB": str(effective_mb - MEMORY_BUDGET_MB),
        "CPU_OVERCOMMIT": f"{min(1.0, 1.0 / container.available_cores):.4f}",
        "MAX_CONCURRENT_JOBS": "2",
        "API_KEY": "",  # no key, so the document declares none (test_security_follows_api_key shows the other case)
    }


def operations(spec: dict[str, Any]) -> set[str]:
    return {f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods}


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    server: RunningServer = start_server(tmp_path, extra_env=server_env())
    try:
        spec = server.get("/openapi.json").json()
        assert server.get("/system/info").json()["limits"]["memory_max_mb"] == MEMORY_BUDGET_MB
        report_dir = tmp_path / "report"
        started = time.monotonic()
        command = [
            str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json",
            "--checks", "all", "--no-color", "--report", "json", "--report-dir", str(report_dir),
        ]  # fmt: skip
        result = subprocess.run(
            command,
            cwd=tmp_path,
            env={**server.env, "SCHEMATHESIS_HOOKS": str(HOOKS)},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        elapsed = time.monotonic() - started
        output = result.stdout[-20_000:] + result.stderr[-5_000:]
        report = json.loads(next(report_dir.glob("*.json")).read_text())
        assert result.returncode == 0, output
        assert report["failures"] == [], output
        assert report["errors"] == [], output
        # Every operation of the served document was generated for, and enough cases in all.
        assert report["operations"]["total"] == len(operations(spec)), output
        assert report["operations"]["tested"] == report["operations"]["total"], output
        assert report["test_cases"]["generated"] >= MIN_CASES, output
        print(f"schemathesis: {report['test_cases']['generated']} cases, {elapsed:.0f} s")
        # The hooks left the server as they found it: no job running, chaos off.
        assert server.get("/load/cpu/status").json()["active_jobs"] == 0
        assert server.get("/load/memory/status").json()["active_jobs"] == 0
        assert server.get("/chaos").json()["fail_rate"] == 0
    finally:
        server.stop()


# --- what the run relies on, without a server ----------------------------------------------------------------


def test_undeclared_methods_get_405_with_allow(client: FlaskClient) -> None:
    for method, path in (("TRACE", "/health"), ("TRACE", "/load/cpu"), ("PATCH", "/jobs/x"), ("DELETE", "/")):
        response = client.open(path, method=method)
        assert response.status_code == 405, (method, path)
        assert response.mimetype == "application/problem+json"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert method not in allowed, allowed
        assert "GET" in allowed or "POST" in allowed, allowed


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/load/memory", {"size_mb": 10.0, "duration_seconds": 5.0}),
        ("/load/cpu", {"cores": 1.0, "duration_seconds": 5.0, "utilization": 50.0}),
        ("/load/cpu/work", {"iterations": 1000.0}),
        ("/chaos", {"fail_rate": 0, "latency_ms": 0.0}),
    ],
)
def test_integral_floats_are_integers(client: FlaskClient, path: str, body: dict[str, object]) -> None:
    method = client.put if path == "/chaos" else client.post
    response = method(path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("value", [100.5, True, "100", 1e400])
def test_non_integral_values_are_still_refused(client: FlaskClient, value: object) -> None:
    raw = json.dumps({"size_mb": value}) if value != 1e400 else '{"size_mb": 1e400}'
    response = client.post("/load/memory", data=raw, content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert response.get_json()["errors"][0]["field"] == "size_mb"


def test_pod_dependent_maxima_are_this_pods(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    limits = client.get("/system/info").get_json()["limits"]
    schemas = spec["components"]["schemas"]
    cores = schemas["CpuJobRequest"]["properties"]["cores"]
    assert cores["maximum"] == limits["cores_max"]
    assert "cores_max" in cores["description"]
    assert "served" in cores["description"]
    for model in ("MemoryJobRequest", "MemorySyncRequest"):
        assert schemas[model]["properties"]["size_mb"]["maximum"] == limits["memory_max_mb"]
    # The documented maximum is accepted by validation and one more is refused, naming the pod's bound.
    over = client.post("/load/cpu", json={"cores": limits["cores_max"] + 1, "duration_seconds": 1}).get_json()
    assert over["status"] == 422
    assert over["errors"][0]["limit"] == {"le": limits["cores_max"]}


def test_every_error_the_pipeline_answers_is_documented(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            documented = set(op["responses"])
            if "requestBody" in op:
                assert op["requestBody"]["required"] is False  # no body at all means the defaults
                assert {"400", "413", "415", "422"} <= documented, (method, path)
            if any(p["in"] == "query" for p in op.get("parameters", [])):
                assert "422" in documented, (method, path)
            if path not in ("/health", "/ready", "/chaos", "/flagger/load-test"):
                assert {"401", "500"} <= documented, (method, path)
            for status, response in op["responses"].items():
                # 414 comes from the HTTP server; /ready's 503 is its own readiness document, as the original's.
                if status.startswith(("4", "5")) and status != "414" and (path, status) != ("/ready", "503"):
                    assert "application/problem+json" in response["content"], (method, path, status)


def test_security_follows_api_key(client: FlaskClient, app_factory: Any) -> None:
    assert client.get("/openapi.json").get_json()["security"] == []
    keyed = app_factory(api_key="k").test_client().get("/openapi.json").get_json()
    assert keyed["security"] == [{"apiKey": []}, {"bearer": []}]
    assert keyed["paths"]["/health"]["get"]["security"] == []


def test_blank_body_is_malformed_but_empty_means_defaults(client: FlaskClient) -> None:
    assert client.post("/load/cpu/stop", data=b"", content_type="application/json").status_code == 200
    for raw in (b" ", b"\n"):
        assert client.post("/load/cpu/stop", data=raw, content_type="application/json").status_code == 400


def test_bounds_are_json_schema_keywords(client: FlaskClient) -> None:
    """pydantic writes a bound it cannot place as "ge"/"le", which JSON Schema ignores: no field may lose its bounds."""
    leaked: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            bounds = ("ge", "le", "gt", "lt")
            leaked.extend(f"{where}/{key}" for key in bounds if isinstance(node.get(key), int | float))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    spec = client.get("/openapi.json").get_json()
    walk(spec, "")
    assert leaked == []
    utilization = spec["components"]["schemas"]["CpuJobRequest"]["properties"]["utilization"]["anyOf"][0]
    assert (utilization["minimum"], utilization["maximum"]) == (1, 100)
