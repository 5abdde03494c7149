"""Driver runs on real servers: API-started runs launched by the supervisor, stop, interrupted-run recovery,
CLI runs saved and sharded through the store, and per-pod attribution across three LoadHarness processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lh_support import RunningServer, start_server, wait_for
from load_harness.bench.driver import NGINX, Nginx

pytestmark = pytest.mark.slow


def run_detail(server: RunningServer, run_id: str) -> dict[str, Any]:
    response = server.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_api_run_is_launched_sharded_and_merged(server: RunningServer) -> None:
    body = {"rate": 40, "duration_seconds": 2, "cpu_ms": 1, "shards": 2, "thresholds": ["errors<1%", "p99<2s"]}
    response = server.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert wait_for(lambda: run_detail(server, run_id)["status"] == "completed", timeout=60), run_detail(server, run_id)
    detail = run_detail(server, run_id)
    summary = detail["summary"]
    assert summary["shards"] == 2
    assert 70 <= summary["requests"]["completed"] <= 90  # 40 req/s × 2 s, from two merged shards
    assert summary["requests"]["errors"] == 0
    assert [p["pod"] for p in summary["pods"]] == ["pod-a"]
    assert len(detail["shard_status"]) == 2
    assert detail["passed"] is True
    assert detail["summary"]["series"]["points"]


def test_api_run_stops_on_request(server: RunningServer) -> None:
    run_id = server.post("/runs", json={"rate": 20, "duration_seconds": 120, "cpu_ms": 1}).json()["run_id"]
    assert wait_for(lambda: run_detail(server, run_id)["status"] == "running")
    assert server.post(f"/runs/{run_id}/stop").status_code == 200
    assert wait_for(lambda: run_detail(server, run_id)["status"] == "stopped"), run_detail(server, run_id)
    assert server.post(f"/runs/{run_id}/stop").status_code == 409


def test_killed_server_leaves_its_run_interrupted(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    run_id = server.post("/runs", json={"rate": 10, "duration_seconds": 120, "cpu_ms": 1}).json()["run_id"]
    assert wait_for(lambda: run_detail(server, run_id)["status"] == "running")
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    restarted = start_server(tmp_path)
    try:
        detail = run_detail(restarted, run_id)
        assert detail["status"] == "interrupted"
        assert "died" in detail["error"]
    finally:
        restarted.stop()


def test_cli_saved_run_with_shards_merges_in_the_store(server: RunningServer) -> None:
    env = {**server.env, "LOG_FORMAT": "text"}
    result = subprocess.run(
        [sys.executable, "-m", "load_harness", "drive", server.url + "/load/cpu/work", "--rate", "30",
         "--duration", "2s", "--cpu-ms", "1", "--shards", "2", "--save", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["shards"] == 2
    assert 50 <= summary["requests"]["completed"] <= 70
    runs = server.get("/runs?source=cli").json()["runs"]
    assert len(runs) == 1
    assert runs[0]["status"] == "completed"
    assert runs[0]["headline"]["completed"] == summary["requests"]["completed"]


@pytest.mark.skipif(not (shutil.which("nginx") or os.path.exists(NGINX)), reason="nginx is not installed")
def test_per_pod_attribution_across_three_servers(tmp_path: Path) -> None:
    servers = []
    try:
        for name in ("pod-a", "pod-b", "pod-c"):
            (tmp_path / name).mkdir()
            servers.append(start_server(tmp_path / name, pod=name))
        upstream = " ".join(f"server {s.url.removeprefix('http://')};" for s in servers)
        # Host $host: pass the client's Host through, as proxies in front of LoadHarness do; nginx's default (the
        # upstream's name, "pods") is not a name the servers answer for (security/origin.py).
        body = (
            'location / { proxy_pass http://pods; proxy_http_version 1.1; proxy_set_header Connection ""; '
            "proxy_set_header Host $host; }"
        )
        with Nginx(body, extra_http=f"upstream pods {{ {upstream} keepalive 8; }}") as nginx:
            result = subprocess.run(
                [sys.executable, "-m", "load_harness", "drive", nginx.url + "/load/cpu/work", "--rate", "60",
                 "--duration", "2s", "--cpu-ms", "1", "--json"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        pods = {p["pod"]: p for p in summary["pods"]}
        assert set(pods) == {"pod-a", "pod-b", "pod-c"}
        total = sum(p["count"] for p in pods.values())
        for pod in pods.values():
            assert abs(pod["count"] - total / 3) <= 3  # nginx round-robin
            assert pod["errors"] == 0, {k: summary[k] for k in ("pods", "status_codes", "error_classes")}
    finally:
        for server in servers:
            server.stop()
