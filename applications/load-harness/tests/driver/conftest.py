"""Fixtures for the driver tests: real local servers (aiohttp backends in a thread, nginx in front of them)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import typer
from aiohttp import web
from load_harness.bench.driver import NGINX, STATIC, Nginx
from load_harness.cli.drive import drive_command
from load_harness.server.launch import free_port
from typer.testing import CliRunner


@dataclass
class Backend:
    """One aiohttp server on 127.0.0.1 answering every path.

    Query `?delay_ms=N` adds latency, `?status=N` picks the status. `stall_after_s` makes the server stall once,
    `stall_s` long, `stall_after_s` after its first request, by blocking its own event loop (like a GC pause: it
    neither accepts nor answers meanwhile).
    """

    pod: str | None = "pod-a"
    pod_in_body: bool = False
    stall_after_s: float | None = None
    stall_s: float = 1.0
    port: int = 0
    count: int = 0
    _first: float | None = None
    _stalled: bool = False
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.count += 1
        now = time.monotonic()
        if self._first is None:
            self._first = now
        if self.stall_after_s is not None and not self._stalled and now - self._first >= self.stall_after_s:
            self._stalled = True
            time.sleep(self.stall_s)  # deliberately blocking: the whole server stalls
        delay = float(request.query.get("delay_ms", "0"))
        if delay:
            await asyncio.sleep(delay / 1000)
        status = int(request.query.get("status", "200"))
        await request.read()
        if self.pod_in_body:
            return web.json_response({"status": "completed", "pod_name": self.pod}, status=status)
        headers = {"X-Pod-Name": self.pod} if self.pod else {}
        return web.Response(text="ok", status=status, headers=headers)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()

    def start(self) -> Backend:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop.close()


@pytest.fixture
def unreachable_url() -> str:
    return f"http://127.0.0.1:{free_port()}/"  # nothing listens there: connection refused


@pytest.fixture
def backend_factory() -> Iterator[Callable[..., Backend]]:
    started: list[Backend] = []

    def make(**options: object) -> Backend:
        backend = Backend(**options).start()  # type: ignore[arg-type]
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.stop()


@pytest.fixture
def backend(backend_factory: Callable[..., Backend]) -> Backend:
    return backend_factory()


def _need_nginx() -> None:
    if not shutil.which("nginx") and not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (apt-get install nginx): skipping tests that need it")


@pytest.fixture(scope="session")
def static_nginx() -> Iterator[Nginx]:
    """nginx answering 200 "ok" everywhere, closing keep-alive connections every 50 requests."""
    _need_nginx()
    with Nginx(STATIC, keepalive_requests=50) as nginx:
        yield nginx


@pytest.fixture
def pods_nginx(backend_factory: Callable[..., Backend]) -> Iterator[Nginx]:
    """nginx round-robin over three backends that answer with X-Pod-Name pod-a, pod-b, pod-c."""
    _need_nginx()
    backends = [backend_factory(pod=f"pod-{name}") for name in "abc"]
    servers = " ".join(f"server 127.0.0.1:{b.port};" for b in backends)
    upstream = f"upstream pods {{ {servers} keepalive 16; }}"
    body = 'location / { proxy_pass http://pods; proxy_http_version 1.1; proxy_set_header Connection ""; }'
    with Nginx(body, extra_http=upstream) as nginx:
        yield nginx


@pytest.fixture
def cli() -> Callable[..., object]:
    """Invoke `drive` as the real CLI would (typer parsing, exit codes), without the rest of the app."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("drive")(drive_command)
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, list(args))

    return invoke
