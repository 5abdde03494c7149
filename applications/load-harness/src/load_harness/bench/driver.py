"""Driver benchmark: our driver against wrk, hey and Locust, all on one local nginx, plus pacing, latency and RSS.

    python -m load_harness.bench.driver            # ~2 minutes, prints JSON
    python -m load_harness.bench.driver --long     # adds a 10-minute open-loop run for the RSS trend

Every tool runs closed loop with the same connection count against an nginx `return 200`. The driver and Locust
run as child processes so their CPU time (user+sys from wait4) gives throughput per core. Plain wrk (Debian's) has
no `-R`, so the rate-limited p50 comparison uses hey with `-q` (per-worker QPS) — see docs/driver.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """A throwaway nginx (own prefix, pid, logs, port) for tests and benchmarks."""

    def __init__(self, server_body: str, extra_http: str = "", keepalive_requests: int = 1000, workers: int = 1):
        self.server_body, self.extra_http = server_body, extra_http
        self.keepalive_requests, self.workers = keepalive_requests, workers
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        if not Path(NGINX).exists():
            raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
        self._dir = tempfile.TemporaryDirectory(prefix="lh-nginx-")
        prefix = self._dir.name
        os.chmod(prefix, 0o755)  # noqa: S103 -- nginx workers run as nobody and must reach the temp paths
        self.port = free_port()
        temps = " ".join(f"{k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = textwrap.dedent(
            f"""
            worker_processes {self.workers};
            pid {prefix}/nginx.pid;
            error_log {prefix}/error.log warn;
            events {{ worker_connections 16384; }}
            http {{
              access_log off;
              {temps}
              keepalive_requests {self.keepalive_requests};
              {self.extra_http}
              server {{ listen 127.0.0.1:{self.port} reuseport; {self.server_body} }}
            }}
            """
        )
        Path(prefix, "nginx.conf").write_text(conf)
        self._proc = subprocess.Popen(
            [NGINX, "-p", prefix, "-c", f"{prefix}/nginx.conf", "-e", f"{prefix}/error.log", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._dir is not None:
            self._dir.cleanup()


STATIC = 'location / { return 200 "ok\\n"; }'


def _timed(cmd: list[str], timeout: float, sample_rss: bool = False) -> tuple[str, float, float, int]:
    """Run `cmd`; return (stdout, wall s, CPU s of the child tree, peak RSS kB sampled from /proc)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                match = re.search(r"VmRSS:\s+(\d+)", status)
                peak[0] = max(peak[0], int(match.group(1))) if match else peak[0]
            except OSError:
                pass
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 99):
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    return out, wall, usage.ru_utime + usage.ru_stime, peak[0]


def drive(url: str, *args: str, timeout: float = 900, sample_rss: bool = False) -> tuple[dict[str, Any], float, int]:
    cmd = [sys.executable, "-m", "load_harness.cli.drive", url, "--json", *args]
    out, _, cpu, rss = _timed(cmd, timeout, sample_rss)
    return json.loads(out.strip().splitlines()[-1]), cpu, rss


def bench_wrk(url: str, connections: int, seconds: int) -> dict[str, Any]:
    out, _, cpu, _ = _timed(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url], seconds + 30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": round(rps), "cpu_s": round(cpu, 2)}


def _hey(url: str, args: list[str], seconds: int) -> tuple[float, float | None, float]:
    out, _, cpu, _ = _timed(["hey", "-z", f"{seconds}s", *args, url], seconds + 30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%+ in ([\d.]+) secs", out)
    return rps, float(p50.group(1)) * 1000 if p50 else None, cpu


def bench_locust(url: str, users: int, seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        locustfile = Path(tmp, "locustfile.py")
        locustfile.write_text(
            "from locust import FastHttpUser, task\n\n"
            "class U(FastHttpUser):\n    @task\n    def hit(self):\n        self.client.get('/')\n"
        )
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users)]
        cmd += ["-r", str(users), "-t", f"{seconds}s", "-H", url, "--csv", f"{tmp}/r", "--only-summary"]
        _, _wall, cpu, _ = _timed(cmd, seconds + 60)
        rows = Path(tmp, "r_stats.csv").read_text().splitlines()
        total = next(row for row in rows if ",Aggregated," in row).split(",")
        header = rows[0].split(",")
        rps = float(total[header.index("Requests/s")])
    return {"rps": round(rps), "cpu_s": round(cpu, 2), "rps_per_core": round(rps * seconds / cpu) if cpu else None}


def pacing(url: str, rate: float, seconds: int) -> dict[str, Any]:
    summary, cpu, _ = drive(url, "--rate", str(rate), "--duration", f"{seconds}s")
    thr, req = summary["throughput"], summary["requests"]
    achieved_error = (thr["completed_rps"] - rate) / rate * 100
    return {
        "rate": rate,
        "sent_rps": thr["sent_rps"],
        "achieved_rps": thr["completed_rps"],
        "pacing_error_pct": round(achieved_error, 3),
        "dropped": req["dropped"],
        "errors": req["errors"],
        "p50_ms": summary["latency_ms"]["response"]["p50"],
        "service_p50_ms": summary["latency_ms"]["service"]["p50"],
        "cpu_share": round(cpu / seconds, 2),
    }


def highest_sustained_rate(url: str, seconds: int, start: float = 4000) -> dict[str, Any]:
    """Double, then bisect, the rate while achieved is within 1 % of target and nothing is dropped."""

    def ok(result: dict[str, Any]) -> bool:
        return abs(result["pacing_error_pct"]) <= 1.0 and result["dropped"] == 0 and result["errors"] == 0

    low: dict[str, Any] | None = None
    rate = start
    high_rate = None
    while high_rate is None and rate <= 200_000:
        result = pacing(url, rate, seconds)
        if ok(result):
            low, rate = result, rate * 2
        else:
            high_rate = rate
    if high_rate is None:
        return low or {}
    low_rate = low["rate"] if low else 0.0
    for _ in range(3):
        mid = round((low_rate + high_rate) / 2)
        result = pacing(url, mid, seconds)
        if ok(result):
            low, low_rate = result, mid
        else:
            high_rate = mid
    return low or {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each throughput run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rss-seconds", type=int, default=20, help="length of the RSS run")
    parser.add_argument("--long", action="store_true", help="a 10-minute RSS run")
    args = parser.parse_args(argv)
    rss_seconds = 600 if args.long else args.rss_seconds
    c, s = args.connections, args.seconds
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "connections": c,
        "seconds": s,
    }
    with Nginx(STATIC) as nginx:
        url = nginx.url + "/"
        summary, cpu, _ = drive(url, "--concurrency", str(c), "--duration", f"{s}s")
        rps = summary["throughput"]["completed_rps"]
        ours = {"rps": round(rps), "cpu_s": round(cpu, 2), "rps_per_core": round(rps * s / cpu) if cpu else None}
        ours["errors"] = summary["requests"]["errors"]
        summary2, cpu2, _ = drive(url, "--concurrency", str(c), "--duration", f"{s}s", "--shards", "2")
        result["closed_loop"] = {
            "driver": ours,
            "driver_2_shards": {"rps": round(summary2["throughput"]["completed_rps"]), "cpu_s": round(cpu2, 2)},
            "wrk": bench_wrk(url, c, s),
            "hey": dict(zip(("rps", "p50_ms", "cpu_s"), _hey(url, ["-c", str(c)], s), strict=True)),
            "locust_fasthttpuser": bench_locust(url, c, s),
        }
        locust = result["closed_loop"]["locust_fasthttpuser"]
        if ours["rps_per_core"] and locust["rps_per_core"]:
            result["closed_loop"]["driver_vs_locust_per_core"] = round(ours["rps_per_core"] / locust["rps_per_core"], 2)
        result["pacing"] = [pacing(url, rate, s) for rate in (100, 1000)]
        result["highest_sustained_rate"] = highest_sustained_rate(url, s)
        # hey -q is per worker: 10 workers x 100 QPS = 1000 req/s, compared with our --rate 1000.
        hey_rps, hey_p50, _ = _hey(url, ["-c", "10", "-q", "100"], s)
        result["p50_at_1000_rps"] = {
            "driver_corrected_ms": result["pacing"][1]["p50_ms"],
            "driver_service_ms": result["pacing"][1]["service_p50_ms"],
            "hey_q_ms": hey_p50,
            "hey_rps": hey_rps,
            "note": "Debian's wrk has no -R (wrk2); hey -c 10 -q 100 paces 1000 req/s instead",
        }
        summary3, cpu3, rss = drive(url, "--rate", "2000", "--duration", f"{rss_seconds}s", sample_rss=True)
        result["rss"] = {
            "rate": 2000,
            "seconds": rss_seconds,
            "peak_rss_mb": round(rss / 1024, 1),
            "requests": summary3["requests"]["completed"],
            "cpu_share": round(cpu3 / rss_seconds, 2),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
