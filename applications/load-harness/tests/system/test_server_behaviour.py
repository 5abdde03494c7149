"""Server-wide behaviour on real processes: metrics across workers, JSON logs, draining, proxy headers."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
import requests
from lh_support import start_server, wait_for

pytestmark = pytest.mark.slow


def test_metrics_count_requests_from_every_worker(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2, extra_env={"EXPOSE_WORKER_PID": "1"})
    try:
        workers = set()
        sent = 0
        while sent < 30 or (len(workers) < 2 and sent < 400):
            response = requests.get(server.url + "/version", headers={"Connection": "close"}, timeout=30)
            workers.add(response.headers["X-Worker-PID"])
            sent += 1
        assert len(workers) == 2
        for _ in range(3):  # whichever worker answers the scrape, it reports the pod's total
            text = requests.get(server.url + "/metrics", headers={"Connection": "close"}, timeout=30).text
            match = re.search(r'flask_http_request_total\{method="GET",path="/version",status="200"\} (\S+)', text)
            assert match is not None
            assert float(match.group(1)) == sent
    finally:
        server.stop()


def test_logs_are_json_lines_with_request_id(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        server.get("/version", headers={"X-Request-ID": "trace-me-123"})
        assert wait_for(lambda: "trace-me-123" in server.log())
        line = next(ln for ln in server.log().splitlines() if "trace-me-123" in ln)
        entry = json.loads(line)
        assert entry["request_id"] == "trace-me-123"
        assert entry["route"] == "/version"
        assert entry["status"] == 200
    finally:
        server.stop()


def test_ready_is_false_while_draining(tmp_path: Path) -> None:
    """On SIGTERM /ready answers 503 for DRAIN_SECONDS before anything stops. Polled until the 503 shows; the
    drain is the longest allowed (5 s), so a test the machine stalls for a while still sees it, and a slow answer
    is waited for rather than taken for the end of the drain."""
    server = start_server(tmp_path, extra_env={"DRAIN_SECONDS": "5"})
    try:
        server.proc.send_signal(signal.SIGTERM)
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while 503 not in seen and time.monotonic() < deadline:
            try:
                seen.append(requests.get(server.url + "/ready", timeout=10).status_code)
            except requests.Timeout:
                continue
            except requests.ConnectionError:
                break  # nothing answers any more: the drain is over
            time.sleep(0.05)
        assert 503 in seen, f"/ready answered {seen} after SIGTERM, never 503"
        assert server.proc.wait(60) == 0
    finally:
        server.stop()
