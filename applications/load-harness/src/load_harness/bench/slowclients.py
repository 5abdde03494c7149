"""Slow clients (ADR 0006): `/health` probes while 200 connections trickle their headers, with gunicorn's gthread
worker and with ours (WEB_WORKER=buffered), in the same run; and plain `/health` throughput with each, by wrk.

`python -m load_harness.bench.slowclients` prints these figures alone; `make bench` includes them.
`python -m load_harness.bench.slowclients --alternatives DIR` measures the same against waitress, granian, uvicorn
and gunicorn's ASGI worker (the last two through a2wsgi), installed in DIR with
`pip install --target DIR waitress==3.0.2 granian==2.8.9 uvicorn==0.54.0 a2wsgi==1.10.10`."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil

from load_harness.bench.server import percentile, tree_cpu_seconds
from load_harness.server.launch import LaunchedServer, launch

SLOW_CLIENTS = 200
TRICKLE_EVERY_S = 3.0  # one header line per connection every 3 s, as in the finding
PROBES = 200
PROBE_TIMEOUT_S = 1.0  # a kubelet probe's default timeoutSeconds
PROBE_PHASE_MAX_S = 30.0  # gthread times out on every probe: stop after this rather than after 200 s
HEADER_TIMEOUT_S = 10.0  # the default, so the figures are production's


class Loris:
    """`count` connections that each send a request line, then one header line every `every_s`, never the end.
    A connection the server closes is dialled again, as a real attacker does, and counted."""

    def __init__(self, url: str, count: int, every_s: float) -> None:
        parsed = urlparse(url)
        self.address = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.count = count
        self.every_s = every_s
        self.selector = selectors.DefaultSelector()
        self.closed_after_s: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loris", daemon=True)

    def _dial(self) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        host = f"{self.address[0]}:{self.address[1]}"
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loris\r\n".encode())
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, time.monotonic())

    def start(self) -> None:
        for _ in range(self.count):
            self._dial()
        self._thread.start()

    def _run(self) -> None:
        next_trickle = time.monotonic() + self.every_s
        while not self._stop.is_set():
            for key, _ in self.selector.select(timeout=min(0.1, max(0.0, next_trickle - time.monotonic()))):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if sock.recv(4096):
                        continue  # the server's 408: the close follows
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self.selector.unregister(sock)
                sock.close()
                self.closed_after_s.append(time.monotonic() - key.data)
                self._dial()
            if time.monotonic() >= next_trickle:
                for key in list(self.selector.get_map().values()):
                    with contextlib.suppress(OSError):  # closed by the server: seen by select
                        key.fileobj.send(b"X-Loris: 1\r\n")  # type: ignore[union-attr]
                next_trickle += self.every_s

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def held_connections(pid: int, port: int) -> int:
    """Connections a server's process tree has accepted on `port` (not merely queued in the backlog)."""
    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        total += sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
    return total


def probes(url: str, count: int, max_s: float = PROBE_PHASE_MAX_S) -> dict[str, Any]:
    """Sequential kubelet-like probes: a new connection each, GET /health, 1 s timeout. A timed-out probe counts
    as 1000 ms in the percentiles, which is what the kubelet sees."""
    parsed = urlparse(url)
    samples: list[float] = []
    timeouts = 0
    started = time.monotonic()
    while len(samples) < count and time.monotonic() - started < max_s:
        begun = time.perf_counter()
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=PROBE_TIMEOUT_S)
        try:
            conn.request("GET", "/health", headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
        finally:
            conn.close()
        elapsed_ms = (time.perf_counter() - begun) * 1000
        if not ok:
            timeouts += 1
            elapsed_ms = max(elapsed_ms, PROBE_TIMEOUT_S * 1000)
        samples.append(elapsed_ms)
    return {
        "probes": len(samples),
        "failed_or_timed_out": timeouts,
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
    }


def wrk(url: str, pid: int, connection_close: bool, seconds: int = 5, connections: int = 32) -> dict[str, Any]:
    """`/health` by wrk (one thread, so the client leaves the server its cores): requests per second, and the
    server's CPU time per request, which a busy shared machine disturbs far less than the rate."""
    binary = shutil.which("wrk")
    if binary is None:
        return {"skipped": "wrk not installed"}
    command = [binary, "-t1", f"-c{connections}", f"-d{seconds}s"]
    if connection_close:
        command += ["-H", "Connection: close"]
    cpu_before = tree_cpu_seconds(pid)
    out = subprocess.run([*command, url + "/health"], capture_output=True, text=True, timeout=seconds + 30).stdout
    cpu = tree_cpu_seconds(pid) - cpu_before
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if not (rate and done):
        return {"failed": out[-400:]}
    return {
        "req_per_s": round(float(rate.group(1)), 1),
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, int(done.group(1))), 4),
    }


def _warm_up(url: str) -> None:
    probes(url, 20)
    # The first responses start each worker's work pool (spawned interpreters, about a second of CPU on this
    # machine); measuring while they start would charge that to the server under test.
    time.sleep(3)


def throughput(url: str, pid: int) -> dict[str, Any]:
    return {
        "keep_alive": wrk(url, pid, connection_close=False),
        "connection_close": wrk(url, pid, connection_close=True),
    }


def attack(url: str, pid: int, with_throughput: bool = True) -> dict[str, Any]:
    """Everything measured on one running server: probes idle, throughput, then probes with the slow clients
    held, and how many of those the server closed within its header timeout (plus the loop's 1 s tick)."""
    port = urlparse(url).port or 80
    _warm_up(url)
    idle = probes(url, PROBES)
    rates = throughput(url, pid) if with_throughput else None
    loris = Loris(url, SLOW_CLIENTS, TRICKLE_EVERY_S)
    loris.start()
    try:
        deadline = time.monotonic() + 30
        while held_connections(pid, port) < SLOW_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        held_at_start = held_connections(pid, port)
        opened = time.monotonic()
        under_attack = probes(url, PROBES)
        time.sleep(max(0.0, opened + HEADER_TIMEOUT_S + 3 - time.monotonic()))
        closed = sorted(loris.closed_after_s)
    finally:
        loris.stop()
    result = {
        "health_idle": idle,
        "health_with_slow_clients": {**under_attack, "slow_connections_held_at_start": held_at_start},
        "slow_connections_closed_by_server": len(closed),
        "closed_after_s_median": round(closed[len(closed) // 2], 2) if closed else None,
    }
    if rates is not None:
        result["throughput_health_wrk_32_connections"] = rates
    return result


@contextmanager
def ours(worker: str) -> Iterator[LaunchedServer]:
    env = {"WEB_WORKER": worker, "HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S)}
    with tempfile.TemporaryDirectory() as tmp:
        srv = launch(Path(tmp), workers=2, extra_env=env)
        try:
            srv.wait_ready()
            yield srv
        finally:
            srv.stop()


def measure(worker: str, with_throughput: bool = True) -> dict[str, Any]:
    with ours(worker) as srv:
        return attack(srv.url, srv.proc.pid, with_throughput)


def throughput_abba(rounds: int = 2) -> dict[str, Any]:
    """Both workers' throughput in the order gthread, buffered, buffered, gthread (× rounds), a fresh server
    each time: on a shared machine one run of each is noise, the median of several next to each other is not."""
    runs: dict[str, list[dict[str, Any]]] = {"gthread": [], "buffered": []}
    for worker in ["gthread", "buffered", "buffered", "gthread"] * rounds:
        with ours(worker) as srv:
            _warm_up(srv.url)
            runs[worker].append(throughput(srv.url, srv.proc.pid))

    def values(worker: str, kind: str, figure: str) -> list[float]:
        return [run[kind][figure] for run in runs[worker] if figure in run[kind]]

    def compare(kind: str, figure: str, how: Callable[[list[float]], float]) -> dict[str, float] | None:
        g, b = values("gthread", kind, figure), values("buffered", kind, figure)
        if not (g and b):
            return None
        return {"gthread": how(g), "buffered": how(b), "buffered_over_gthread": round(how(b) / how(g), 2)}

    summary: dict[str, Any] = {"runs": runs}
    # The median, and the best run: other work on a shared machine only ever slows a run down.
    for kind in ("keep_alive", "connection_close"):
        summary[kind] = {
            "req_per_s_median": compare(kind, "req_per_s", statistics.median),
            "req_per_s_best": compare(kind, "req_per_s", max),
            "server_cpu_ms_per_request_median": compare(kind, "server_cpu_ms_per_request", statistics.median),
            "server_cpu_ms_per_request_best": compare(kind, "server_cpu_ms_per_request", min),
        }
    return summary


def slow_clients() -> dict[str, Any]:
    gthread = measure("gthread", with_throughput=False)
    buffered = measure("buffered", with_throughput=False)
    p99_g = gthread["health_with_slow_clients"]["p99_ms"]
    p99_b = buffered["health_with_slow_clients"]["p99_ms"]
    return {
        "setup": f"2 workers × 16 threads; {SLOW_CLIENTS} connections each sending one header line every "
        f"{TRICKLE_EVERY_S:g} s; {PROBES} sequential probes (new connection, {PROBE_TIMEOUT_S:g} s timeout, "
        f"at most {PROBE_PHASE_MAX_S:g} s); HEADER_TIMEOUT_SECONDS={HEADER_TIMEOUT_S:g}; throughput: wrk -t1 "
        "-c32 -d5s on /health",
        "gthread": gthread,
        "buffered": buffered,
        # gthread's p99 is capped by the probe timeout, so the ratio is a lower bound.
        "gthread_over_buffered_p99_with_slow_clients": round(p99_g / p99_b, 1) if p99_b else None,
        "throughput": throughput_abba(),
        "target": "p99 < 50 ms with the slow connections held; they are closed after the header timeout",
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--alternatives"]:
        # The other servers ADR 0006 weighed; not dependencies, so they come from a directory of their own.
        from load_harness.bench import alternatives

        # Ours first, in the same run: the peers' figures are only comparable to a measurement beside them.
        result: dict[str, Any] = {"buffered": measure("buffered"), **alternatives.measure_all(Path(argv[1]))}
    else:
        result = slow_clients()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
