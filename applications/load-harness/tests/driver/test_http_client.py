"""The driver's HTTP/1.1 client (driver/client.py, driver/response.py) and its event loop (driver/eventloop.py).

The client runs against a scripted raw server on 127.0.0.1
(a free port) that answers each request with exactly the bytes a test gives: every framing, interim responses,
closes, stray bytes and TLS, on uvloop and on asyncio's loop. Waits are for conditions, with generous deadlines.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
from load_harness.driver import eventloop
from load_harness.driver.client import Client, Pending, build_target

DEADLINE_S = 30.0  # for anything that should take milliseconds: only a stalled machine gets near it
CLOSE = "close"  # a script step: close the connection
Step = bytes | float | str  # bytes to write, seconds to wait, or CLOSE
Script = Callable[[int], list[Step]]  # the steps answering the server's n-th request (0-based, all connections)


@dataclass
class RawServer:
    """A TCP (or TLS) server in its own thread and event loop, answering each request with a script's steps."""

    script: Script
    hosts: tuple[str, ...] = ("127.0.0.1",)
    tls: ssl.SSLContext | None = None
    port: int = 0
    requests: int = 0
    connections: int = 0
    closed: int = 0
    local_hosts: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _server: asyncio.Server | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.local_hosts.append(writer.get_extra_info("sockname")[0])
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")  # the driver's GET and HEAD requests have no body
                index, self.requests = self.requests, self.requests + 1
                for step in self.script(index):
                    if step == CLOSE:
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    elif isinstance(step, bytes):
                        writer.write(step)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client closed or aborted the connection
        finally:
            writer.close()
            self.closed += 1

    async def _start(self) -> None:
        for _ in range(20):  # every host on one port (port 0 would give each its own): retry a taken one
            with socket.socket() as probe:
                probe.bind((self.hosts[0], 0))
                port = probe.getsockname()[1]
            try:
                self._server = await asyncio.start_server(self._handle, list(self.hosts), port, ssl=self.tls)
            except OSError:
                continue
            self.port = port
            return
        raise RuntimeError("no free port for every host")

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()  # handlers still waiting (a script's long pause) end here, not with the loop
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(DEADLINE_S)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(DEADLINE_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(DEADLINE_S)
        self._loop.close()


class Outcome(NamedTuple):
    status: int
    pod: str | None
    error: str | None
    detail: str | None
    waited_s: float


class Session:
    """One Client, one request at a time: `await request()` dispatches and waits for the callback."""

    def __init__(self, url: str, method: str, timeout_s: float, insecure: bool) -> None:
        self.loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[Outcome] | None = None
        self.client = Client(build_target(url, method), timeout_s, self._on_done, insecure=insecure)

    def _on_done(
        self, pending: Pending, status: int, pod: str | None, error: str | None, detail: str | None, end: float
    ) -> None:
        assert self._waiter is not None
        assert not self._waiter.done(), "one callback per request"
        self._waiter.set_result(Outcome(status, pod, error, detail, end - pending.sent))

    async def request(self) -> Outcome:
        self._waiter = self.loop.create_future()
        self.client.dispatch(Pending(self.loop.time()))
        return await asyncio.wait_for(self._waiter, DEADLINE_S)

    async def until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.005)


Scenario = Callable[[Session], Awaitable[None]]


def drive(
    url: str, scenario: Scenario, *, method: str = "GET", timeout_s: float = DEADLINE_S, insecure: bool = False
) -> None:
    """Run `scenario` with a started Client on the loop `loop_kind` chose, and close the client after."""

    async def main() -> None:
        session = Session(url, method, timeout_s, insecure)
        await session.client.start()
        try:
            await scenario(session)
        finally:
            await session.client.close()

    eventloop.run(main())


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each client test runs on uvloop (the default) and on asyncio's loop (the fallback)."""
    monkeypatch.setenv(eventloop.ENV, request.param)
    assert eventloop.loop_name() == request.param
    return str(request.param)


def ok(body: bytes = b"ok", *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)


@pytest.mark.usefixtures("loop_kind")
def test_every_framing_on_one_keep_alive_connection() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    answers: list[list[Step]] = [
        [ok(b"hello", b"X-Pod-Name: pod-a")],
        [chunked, b'5\r\n{"pod\r\n', 0.01, b'f\r\n_name": "pod-b"\r\n', b"1\r\n}\r\n0\r\n\r\n"],  # in pieces
        [b"HTTP/1.1 100 Continue\r\n\r\n", 0.01, b"HTTP/1.1 204 No Content\r\nX-Pod-Name: pod-c\r\n\r\n"],
        [b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"],
        [b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"],
        [b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"pod_name": "pod-d"}', CLOSE],  # to close
        [ok()],
    ]

    with RawServer(lambda i: answers[i]) as server:

        async def scenario(s: Session) -> None:
            got = [await s.request() for _ in answers]
            pods = [(200, "pod-a"), (200, "pod-b"), (204, "pod-c"), (304, None), (503, None), (200, "pod-d")]
            assert [(o.status, o.pod, o.error) for o in got] == [(*p, None) for p in [*pods, (200, None)]]
            assert (s.client.connects, s.client.reconnects) == (2, 0)  # the read-to-close body needs a new one

        drive(server.url(), scenario)
    assert server.connections == 2


@pytest.mark.usefixtures("loop_kind")
def test_head_responses_have_no_body_and_keep_the_connection() -> None:
    with RawServer(lambda i: [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Pod-Name: h\r\n\r\n"]) as server:

        async def scenario(s: Session) -> None:
            for _ in range(3):
                assert (await s.request()).status == 200
            assert s.client.connects == 1

        drive(server.url(), scenario, method="HEAD")


@pytest.mark.usefixtures("loop_kind")
def test_connection_close_and_an_idle_close_reconnect_transparently_once() -> None:
    def script(i: int) -> list[Step]:
        if i == 2:
            return [ok(b"x", b"Connection: close"), CLOSE]  # nginx's 1000th request, in short
        if i in (4, 7, 8):
            return [CLOSE]  # the server dropped the reused idle connection as the request arrived
        return [ok()]

    with RawServer(script) as server:

        async def scenario(s: Session) -> None:
            got = [await s.request() for _ in range(6)]  # requests 0-3, then 4 (dropped) is retried as 5, then 6
            assert all((o.status, o.error) == (200, None) for o in got), got
            assert (s.client.connects, s.client.reconnects) == (3, 1)
            failed = await s.request()  # 7 is dropped too, and so is its retry (8): retried once only
            assert (failed.status, failed.error, failed.detail) == (0, "other", "ServerDisconnected")
            assert (s.client.connects, s.client.reconnects) == (4, 2)

        drive(server.url(), scenario)
    assert server.requests == 9


@pytest.mark.usefixtures("loop_kind")
def test_protocol_errors_stray_and_extra_bytes() -> None:
    def script(i: int) -> list[Step]:
        if i == 0:
            return [b"SSH-2.0-OpenSSH_9.2\r\n\r\n"]
        if i == 1:
            return [ok(b"a") + b"junk"]  # bytes past the response: answered, but the connection is retired
        if i == 2:
            return [ok(), 0.05, b"HTTP/1.1 200 OK\r\n"]  # bytes nobody asked for, on the idle connection
        return [ok()]

    with RawServer(script) as server:

        async def scenario(s: Session) -> None:
            failed = await s.request()
            assert (failed.status, failed.error) == (0, "other")
            assert str(failed.detail).startswith("ProtocolError: ")
            assert (await s.request()).status == 200
            await s.until(lambda: server.closed == 2)
            assert (await s.request()).status == 200
            await s.until(lambda: server.closed == 3)  # the client aborted the connection the stray bytes came on
            assert (await s.request()).status == 200
            assert s.client.connects == 4

        drive(server.url(), scenario)


@pytest.mark.usefixtures("loop_kind")
def test_timeouts_come_from_the_sweep() -> None:
    with RawServer(lambda i: [30.0]) as server:

        async def scenario(s: Session) -> None:
            timed_out = await s.request()
            assert (timed_out.status, timed_out.error, timed_out.detail) == (0, "timeout", "Timeout")
            assert 0.3 <= timed_out.waited_s < 0.3 + DEADLINE_S / 2

        drive(server.url(), scenario, timeout_s=0.3)


@pytest.mark.usefixtures("loop_kind")
def test_connections_are_warmed_in_round_robin_over_addresses() -> None:
    with RawServer(lambda i: [ok()], hosts=("127.0.0.1", "127.0.0.2")) as server:

        async def scenario(s: Session) -> None:
            s.client.addresses = ["127.0.0.1", "127.0.0.2"]  # as getaddrinfo gives a headless Service's pods
            await s.client.warm(4)
            await s.until(lambda: server.connections == 4)
            assert (server.requests, s.client.connects) == (0, 4)
            assert (await s.request()).status == 200
            assert s.client.connects == 4  # the request went out on a warm connection

        drive(server.url(), scenario)
    assert sorted(server.local_hosts) == ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"]


def _self_signed(directory: Path) -> ssl.SSLContext:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (directory / "tls.pem").write_bytes(key_pem + cert.public_bytes(pem))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "tls.pem")
    return context


@pytest.mark.usefixtures("loop_kind")
def test_tls_with_and_without_verification(tmp_path: Path) -> None:
    with RawServer(lambda i: [ok(b"secret", b"X-Pod-Name: tls")], tls=_self_signed(tmp_path)) as server:

        async def insecure(s: Session) -> None:
            for _ in range(2):
                got = await s.request()
                assert (got.status, got.pod) == (200, "tls")
            assert s.client.connects == 1

        async def verified(s: Session) -> None:
            refused = await s.request()
            assert (refused.status, refused.error, refused.detail) == (0, "connect", "SSLCertVerificationError")

        drive(server.url("https"), insecure, insecure=True)
        drive(server.url("https"), verified)


def test_event_loop_choice_and_clock(monkeypatch: pytest.MonkeyPatch, loop_kind: str) -> None:
    async def clock_resolution() -> float:
        loop = asyncio.get_running_loop()
        start, wall = loop.time(), time.monotonic()
        while time.monotonic() - wall < 0.0003:
            pass  # within one callback: uvloop's own clock would not move at all
        return loop.time() - start

    async def short_sleep() -> float:
        start = time.monotonic()
        await asyncio.sleep(0.0002)  # uvloop alone would round this to 0 ms and run it at once
        return time.monotonic() - start

    assert eventloop.run(clock_resolution()) >= 0.0003
    assert eventloop.run(short_sleep()) >= 0.0002
    monkeypatch.setenv(eventloop.ENV, "tokio")
    with pytest.raises(ValueError, match=eventloop.ENV):
        eventloop.run(clock_resolution())
