"""Dashboard figures: the page weight of /ui (bytes transferred, raw, since gunicorn does not compress) and the
server time of each HTMX partial on an idle machine. `python -m load_harness.bench.dashboard` prints JSON.

Server time is measured as the round trip on a keep-alive loopback connection, which adds well under a
millisecond of transport to the server's own time, so the figures are an upper bound."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from load_harness.server.launch import launch

API_KEY = "bench-dashboard-key"
PAGE_BUDGET_BYTES = 200 * 1024
PARTIAL_BUDGET_MS = 30.0
PARTIALS = [
    ("GET", "/ui/tabs/cpu", None),
    ("GET", "/ui/tabs/memory", None),
    ("GET", "/ui/tabs/cluster", None),
    ("GET", "/ui/partials/active", None),
    ("GET", "/ui/partials/metrics?scope=pod", None),
    ("GET", "/ui/partials/metrics?scope=cluster", None),
    ("GET", "/ui/partials/pods?scope=pod", None),
    ("GET", "/ui/runs/partials/list", None),
    ("POST", "/ui/cpu/validate?field=cores", {"cores": "1", "utilization": "50", "duration_seconds": "60"}),
    ("POST", "/ui/memory/validate?field=size_mb", {"size_mb": "64", "duration_seconds": "30"}),
    ("POST", "/ui/cluster/preview", {"mode": "open", "target": "50", "preset": "step", "duration_s": "60"}),
]
ASSET = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+)"')


class Browserish:
    """One keep-alive connection that keeps the session cookie and sends the CSRF header, like the dashboard."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
        self.cookie = ""
        self.token = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, htmx: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if htmx:
            headers["HX-Request"] = "true"
        if self.token:
            headers["X-CSRF-Token"] = self.token
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.token})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, dict(response.getheaders()), data

    def refresh_token(self, html: bytes) -> None:
        match = re.search(rb'name="csrf-token" content="([^"]+)"', html)
        if match:
            self.token = match.group(1).decode()

    def login(self) -> None:
        _, _, html = self.request("GET", "/ui/login", htmx=False)
        self.refresh_token(html)
        status, _, _ = self.request("POST", "/ui/login", {"api_key": API_KEY, "next": "/ui/"}, htmx=False)
        if status != 302:
            raise RuntimeError(f"login answered {status}")
        _, _, html = self.request("GET", "/ui/", htmx=False)
        self.refresh_token(html)

    def close(self) -> None:
        self.conn.close()


def _wire_size(headers: dict[str, str], body: bytes) -> int:
    # Status line and headers as sent, plus the body: what crosses the wire without compression.
    return len("HTTP/1.1 200 OK\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in headers.items()) + 2 + len(body)


def page_weight(client: Browserish) -> dict[str, Any]:
    status, headers, html = client.request("GET", "/ui/", htmx=False)
    if status != 200:
        raise RuntimeError(f"/ui/ answered {status}")
    items = {"/ui/": (_wire_size(headers, html), len(html), len(gzip.compress(html)))}
    for path in sorted(set(ASSET.findall(html.decode()))):
        _, asset_headers, body = client.request("GET", path.replace("&amp;", "&"), htmx=False)
        items[path.split("?")[0]] = (_wire_size(asset_headers, body), len(body), len(gzip.compress(body)))
    total = sum(wire for wire, _, _ in items.values())
    return {
        "requests": len(items),
        "transferred_bytes": total,
        "transferred_kib": round(total / 1024, 1),
        "gzip_would_be_kib": round(sum(g for _, _, g in items.values()) / 1024, 1),
        "budget_kib": PAGE_BUDGET_BYTES // 1024,
        "within_budget": total <= PAGE_BUDGET_BYTES,
        "items": {path: {"bytes": wire, "body_bytes": raw} for path, (wire, raw, _) in items.items()},
    }


def partial_times(client: Browserish, repeats: int = 50) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for method, path, form in PARTIALS:
        samples = []
        for _ in range(repeats + 3):
            started = time.perf_counter()
            status, _, _ = client.request(method, path, form)
            samples.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{method} {path} answered {status}")
        samples = samples[3:]  # the first requests compile templates; steady state is what users see
        ordered = sorted(samples)
        results[f"{method} {path}"] = {
            "median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max_ms": round(ordered[-1], 2),
        }
    worst = max(r["p95_ms"] for r in results.values())
    return {
        "budget_ms": PARTIAL_BUDGET_MS,
        "worst_p95_ms": worst,
        "within_budget": worst <= PARTIAL_BUDGET_MS,
        "partials": results,
    }


def measure(workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        server = launch(workdir or Path(scratch), pod="bench-dashboard", extra_env={"API_KEY": API_KEY})
        try:
            server.wait_ready()
            client = Browserish(server.url)
            try:
                client.login()
                # One running job, so the active panel renders an entry with its countdown and stop button.
                client.request("POST", "/ui/memory", {"size_mb": "8", "duration_seconds": "120"})
                return {"page_weight": page_weight(client), "partials": partial_times(client)}
            finally:
                client.close()
        finally:
            server.stop()


def main() -> int:
    json.dump(measure(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
