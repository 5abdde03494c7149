"""Server benchmarks through the real HTTP API: probe latency under load, work overhead, memory accuracy and
release, and cold start. Each function returns a dict of figures; `python -m load_harness.bench` prints them."""

from __future__ import annotations

import http.client
import json
import math
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil

from load_harness.cgroups import read_limits
from load_harness.server.launch import LaunchedServer, launch
from load_harness.workloads.memory import tree_pss_bytes


class Client:
    """A keep-alive HTTP/1.1 client on one connection: the probe's own overhead stays in microseconds."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            # gunicorn closes keep-alive connections idle for 5 s; reconnect once.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def probe_latency(url: str, requests: int = 1000, interval_s: float = 0.002) -> dict[str, float]:
    client = Client(url)
    samples = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            status, _ = client.request("GET", "/health")
            samples.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"/health answered {status}")
            time.sleep(interval_s)
    finally:
        client.close()
    return {
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "max_ms": round(max(samples), 3),
    }


@contextmanager
def server(workdir: Path, workers: int = 1) -> Iterator[LaunchedServer]:
    launched = launch(workdir, workers=workers)
    try:
        launched.wait_ready()
        yield launched
    finally:
        launched.stop()


def health_under_load(seconds_per_phase: float = 4.0) -> dict[str, Any]:
    cores = math.ceil(read_limits().available_cores)
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), workers=2) as srv:
        requests = int(seconds_per_phase / 0.003)
        idle = probe_latency(srv.url, requests)

        client = Client(srv.url)
        body = f'{{"cores": {cores}, "utilization": 100, "duration_seconds": 120}}'
        status, _ = client.request("POST", "/load/cpu", body)
        assert status == 200, status
        time.sleep(1.0)
        burning = probe_latency(srv.url, requests)
        client.request("POST", "/load/cpu/stop", "{}")

        stop = threading.Event()
        completed = [0]

        def hammer() -> None:
            worker = Client(srv.url)
            while not stop.is_set():
                worker.request("POST", "/load/cpu/work", '{"cpu_ms": 20}')
                completed[0] += 1
            worker.close()

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(cores * 4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        started, done_before = time.monotonic(), completed[0]
        saturated = probe_latency(srv.url, requests)
        work_rate = (completed[0] - done_before) / (time.monotonic() - started)
        stop.set()
        for thread in threads:
            thread.join(35)
        client.close()
    return {
        "health_idle": idle,
        "health_all_cores_burning": burning,
        "health_work_saturated": {
            **saturated,
            "work_requests_per_s": round(work_rate, 1),
            "clients": cores * 4,
        },
        "targets": {"all_cores_burning_p99_ms": 10, "work_saturated_p99_ms": 20},
    }


def work_overhead(requests: int = 300) -> dict[str, float]:
    """Wall time the server spends on /load/cpu/work beyond the CPU it was asked to burn."""
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as srv:
        client = Client(srv.url)
        client.request("POST", "/load/cpu/work", '{"cpu_ms": 1}')  # start the pool
        overheads, client_ms = [], []
        for _ in range(requests):
            started = time.perf_counter()
            _, raw = client.request("POST", "/load/cpu/work", '{"cpu_ms": 1}')
            client_ms.append((time.perf_counter() - started) * 1000)
            body = json.loads(raw)
            overheads.append(body["duration_ms"] - body["cpu_ms"])
        client.close()
    return {
        "server_overhead_ms_median": round(statistics.median(overheads), 3),
        "server_overhead_ms_p99": round(percentile(overheads, 99), 3),
        "client_round_trip_ms_median_for_1ms_work": round(statistics.median(client_ms), 3),
    }


def memory_job(size_mb: int = 256) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as srv:
        client = Client(srv.url)
        client.request("POST", "/load/cpu/work", '{"cpu_ms": 1}')  # the work pool is part of the baseline
        time.sleep(0.5)
        baseline = tree_pss_bytes(srv.proc.pid)
        client.request("POST", "/load/memory", f'{{"size_mb": {size_mb}, "duration_seconds": 60}}')
        deadline = time.monotonic() + 10
        held = 0
        while time.monotonic() < deadline:
            held = tree_pss_bytes(srv.proc.pid) - baseline
            if held >= size_mb * 2**20 * 0.9:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        held = tree_pss_bytes(srv.proc.pid) - baseline
        client.request("POST", "/load/memory/stop", "{}")
        stopped = time.monotonic()
        while tree_pss_bytes(srv.proc.pid) - baseline > 10 * 2**20 and time.monotonic() - stopped < 10:
            time.sleep(0.01)
        release_ms = (time.monotonic() - stopped) * 1000
        client.close()
    expected = size_mb * 2**20
    return {
        "requested_mb": size_mb,
        "held_mb": round(held / 2**20, 2),
        "error_pct": round(100 * (held - expected) / expected, 2),
        "release_ms": round(release_ms, 1),
        "original_error_pct_peers_md": round(100 * (292.5 - 256) / 256, 2),  # measured on our machine, peers.md
    }


def cold_start(runs: int = 5) -> dict[str, float]:
    """Seconds from exec of `load-harness serve` to /ready 200, on an existing database (the usual restart)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs + 1):
            launched = launch(Path(tmp))
            times.append(launched.wait_ready())
            launched.stop()
            time.sleep(1.0)  # let the previous server's processes finish exiting before the next start
    return {
        "first_start_with_migrations_s": round(times[0], 3),
        "median_s": round(statistics.median(times[1:]), 3),
        "max_s": round(max(times[1:]), 3),
        "target_s": 1.0,
    }


def tree_cpu_seconds(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _settled_share(pid: int, settle_s: float = 2.0, window_s: float = 5.0) -> float:
    """Percent of one core that a process tree uses over a window, after it has settled."""
    time.sleep(settle_s)
    before, started = tree_cpu_seconds(pid), time.monotonic()
    time.sleep(window_s)
    return 100 * (tree_cpu_seconds(pid) - before) / (time.monotonic() - started)


def cpu_under_quota(quota_cores: float = 0.5, utilization: int = 50) -> dict[str, Any]:
    """A pod limited to `quota_cores` asks for `utilization` % of a core: ours through the API, stress-ng with
    `--cpu 1 --cpu-load P` in an identical cgroup. The target is P % of what the container may use."""
    from load_harness.bench import cgroup

    why_not = cgroup.available()
    if why_not:
        return {"skipped": why_not}
    target = quota_cores * utilization
    with tempfile.TemporaryDirectory() as tmp, cgroup.cpu_limited(quota_cores) as enter:
        srv = launch(Path(tmp), preexec=enter)
        try:
            srv.wait_ready()
            client = Client(srv.url)
            client.request("POST", "/load/cpu", f'{{"cores": 1, "utilization": {utilization}, "duration_seconds": 20}}')
            supervisor = next(p for p in psutil.Process(srv.proc.pid).children() if p.name() == "lh-supervisor")
            time.sleep(0.5)
            burner = supervisor.children()[0]  # the job's one burner, not the supervisor's own polling
            ours = _settled_share(burner.pid)
            client.close()
        finally:
            srv.stop()
    stress_ng = shutil.which("stress-ng") or "/usr/bin/stress-ng"
    theirs: float | None = None
    if Path(stress_ng).exists():
        with cgroup.cpu_limited(quota_cores) as enter:
            proc = subprocess.Popen(
                [stress_ng, "--cpu", "1", "--cpu-load", str(utilization), "--timeout", "12s", "--quiet"],
                preexec_fn=enter,
            )
            try:
                theirs = _settled_share(proc.pid)
            finally:
                proc.wait(20)
    return {
        "quota_cores": quota_cores,
        "utilization_pct": utilization,
        "target_pct_of_a_core": target,
        "ours_pct": round(ours, 2),
        "ours_error_pp": round(ours - target, 2),
        "stress_ng_pct": None if theirs is None else round(theirs, 2),
        "stress_ng_error_pp": None if theirs is None else round(theirs - target, 2),
        "notes": "target = utilization × the quota (what the pod may use); both measured as CPU time of the tree",
    }
