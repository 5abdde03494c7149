"""Slow clients cannot starve the server (ADR 0006): 200 connections trickling their headers leave /health
answering, are closed after the header timeout, and ordinary requests of every shape still work.

One real server (2 workers, HEADER_TIMEOUT_SECONDS=2) serves the whole module. The strict figure (p99 under 50 ms
with 200 slow connections held) is measured by `make bench` (bench/slowclients.py), not here: CI is a shared
2-core machine, so the test asserts what holds on any machine, every probe answered and p99 under 1 s."""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import signal
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import psutil
import pytest
from lh_support import RunningServer, start_server, wait_for

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 2.0
SLOW_CLIENTS = 200
TRICKLE_EVERY_S = 0.5
PROBES = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # EXPOSE_WORKER_PID: the keep-alive test compares which worker answered (the header is opt-in).
    env = {"HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S), "WEB_WORKER": "buffered", "EXPOSE_WORKER_PID": "1"}
    running = start_server(tmp_path_factory.mktemp("slow"), workers=2, extra_env=env, wait=False)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def address(server: RunningServer) -> tuple[str, int]:
    parsed = urlparse(server.url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def host_header(server: RunningServer) -> bytes:
    host, port = address(server)
    return f"Host: {host}:{port}\r\n".encode()


class SlowLoris:
    """Connections that send a request line and then one header line at a time, never the blank line."""

    def __init__(self, server: RunningServer, count: int) -> None:
        self.server = server
        self.socks: list[socket.socket] = []
        self.opened_at: dict[socket.socket, float] = {}
        self.closed_by_server: list[tuple[float, bytes]] = []  # (seconds open, what the server sent first)
        self.redials = 0
        for _ in range(count):
            self.dial()

    def dial(self) -> None:
        started = time.monotonic()
        sock = socket.create_connection(address(self.server), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\n" + host_header(self.server))
        sock.setblocking(False)
        self.socks.append(sock)
        self.opened_at[sock] = started

    def trickle(self) -> None:
        for sock in list(self.socks):
            with contextlib.suppress(OSError):  # closed by the server: collect() sees it
                sock.send(b"X-Slow: 1\r\n")

    def collect(self, timeout: float, redial: bool) -> None:
        """Wait up to `timeout` for the server to close slow connections; record each one it closed."""
        if not self.socks:
            return
        readable, _, _ = select.select(self.socks, [], [], timeout)
        for sock in readable:
            try:
                first = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:  # ECONNRESET: closed too
                first = b""
            if first:
                # The 408, then the end of the stream; waited for with a deadline, never assumed.
                sock.setblocking(True)
                sock.settimeout(10)
                with_rest = first
                try:
                    while chunk := sock.recv(4096):
                        with_rest += chunk
                except OSError:
                    pass
                first = with_rest
            self.closed_by_server.append((time.monotonic() - self.opened_at.pop(sock), first))
            self.socks.remove(sock)
            sock.close()
            if redial:  # as a real attacker does: the pressure stays at `count` connections
                self.redials += 1
                self.dial()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks.clear()


def server_side_connections(server: RunningServer) -> int:
    """Established connections the web workers hold on the server's port (accepted, not just queued)."""
    port = address(server)[1]
    total = 0
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if proc.name() != "lh-web-worker":
                continue
            connections = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        total += sum(1 for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
    return total


def probe(server: RunningServer) -> float:
    """One kubelet-like probe: a new connection, GET /health; seconds to the 200."""
    host, port = address(server)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/health", headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    finally:
        conn.close()
    return time.perf_counter() - started


def test_health_answers_while_200_slow_clients_are_held(server: RunningServer) -> None:
    loris = SlowLoris(server, SLOW_CLIENTS)
    try:
        # gthread's failure needs the connections accepted, not merely queued: wait until the workers hold them.
        # With a 2 s header timeout some may already be closed (and dialled again) on a slow machine: 90 % is held.
        def held() -> bool:
            loris.collect(timeout=0, redial=True)
            return server_side_connections(server) >= SLOW_CLIENTS * 0.9

        assert wait_for(held, timeout=30)
        latencies = []
        last_trickle = time.monotonic()
        for _ in range(PROBES):
            if time.monotonic() - last_trickle >= TRICKLE_EVERY_S:
                loris.trickle()
                last_trickle = time.monotonic()
            loris.collect(timeout=0, redial=True)
            latencies.append(probe(server))
        assert len(latencies) == PROBES
        # With 50 probes the p99 is the slowest one. gthread, for comparison, timed out (10 s) on most of them.
        assert max(latencies) < 1.0, f"slowest /health {max(latencies) * 1000:.0f} ms with {SLOW_CLIENTS} held"
    finally:
        loris.close()


def test_slow_clients_are_closed_after_the_header_timeout(server: RunningServer) -> None:
    count = 40
    loris = SlowLoris(server, count)
    try:
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 30
        next_trickle = time.monotonic() + TRICKLE_EVERY_S
        while loris.socks and time.monotonic() < deadline:
            # Trickling header lines must not buy more time: the deadline is for the whole header block.
            if time.monotonic() >= next_trickle:
                loris.trickle()
                next_trickle = time.monotonic() + TRICKLE_EVERY_S
            loris.collect(timeout=max(0.0, next_trickle - time.monotonic()), redial=False)
        assert not loris.socks, f"{len(loris.socks)} slow connections still open after {HEADER_TIMEOUT_S + 30} s"
        assert len(loris.closed_by_server) == count
        for seconds_open, sent in loris.closed_by_server:
            assert seconds_open >= HEADER_TIMEOUT_S  # never before the timeout: it starts after our connect
            assert sent.startswith(b"HTTP/1.1 408 "), sent[:80]
    finally:
        loris.close()


def raw(server: RunningServer, data: bytes) -> socket.socket:
    sock = socket.create_connection(address(server), timeout=10)
    sock.sendall(data)
    return sock


def read_responses(sock: socket.socket, count: int) -> list[int]:
    """The statuses of `count` responses read off one socket in order (for pipelining; bodies by length)."""
    reader = sock.makefile("rb")
    statuses = []
    for _ in range(count):
        status = int(reader.readline().split()[1])
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        assert len(reader.read(length)) == length
        statuses.append(status)
    return statuses


def test_post_with_json_body_and_keep_alive_reuse(server: RunningServer) -> None:
    host, port = address(server)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/load/cpu/work", body=json.dumps({"cpu_ms": 1}), headers=headers)
        first = conn.getresponse()
        assert first.status == 200, first.read()
        assert json.loads(first.read())["status"] == "completed"
        sock = conn.sock
        conn.request("GET", "/health")
        second = conn.getresponse()
        second.read()
        assert second.status == 200
        assert conn.sock is sock  # the same connection answered both: it went back to the loop and was read again
        assert second.getheader("X-Worker-PID") == first.getheader("X-Worker-PID") is not None
    finally:
        conn.close()


def test_pipelined_pair_is_answered_in_order(server: RunningServer) -> None:
    request = b"GET /health HTTP/1.1\r\n" + host_header(server) + b"\r\n"
    last = b"GET /version HTTP/1.1\r\n" + host_header(server) + b"Connection: close\r\n\r\n"
    with raw(server, request + last) as sock:
        assert read_responses(sock, 2) == [200, 200]


def test_chunked_request_body(server: RunningServer) -> None:
    host, port = address(server)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        body = (part.encode() for part in ('{"cpu_ms"', ": 1", "}"))
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        conn.request("POST", "/load/cpu/work", body=body, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert json.loads(response.read())["cpu_ms"] >= 1
    finally:
        conn.close()


def test_expect_100_continue_is_answered_before_the_body(server: RunningServer) -> None:
    body = b'{"cpu_ms": 1' + b" " * 2000 + b"}"  # over curl's 1 KiB, above which it sends Expect
    head = (
        b"POST /load/cpu/work HTTP/1.1\r\n" + host_header(server) + b"Content-Type: application/json\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    with raw(server, head) as sock:
        # The client sends nothing more until it sees the 100: a server that waited for the body would hang here.
        interim = sock.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert read_responses(sock, 1) == [200]


def test_too_large_requests_are_refused_by_the_loop(server: RunningServer) -> None:
    too_long = (
        b"POST /load/cpu/work HTTP/1.1\r\n" + host_header(server) + b"Expect: 100-continue\r\n"
        b"Content-Length: 5000000\r\n\r\n"
    )
    with raw(server, too_long) as sock:
        assert read_responses(sock, 1) == [413]  # at once, without a 100 Continue: the body is never sent
    huge_headers = b"GET /health HTTP/1.1\r\n" + host_header(server) + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    with raw(server, huge_headers) as sock:
        assert read_responses(sock, 1) == [431]


def _wait_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection, with a deadline."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_kept_alive_and_pipelined_connections_go_back_through_the_reader(server: RunningServer) -> None:
    # A slow second request must get the header timeout too, whether it arrives on a kept-alive connection or
    # behind a complete request in the same packet: neither may go straight to a thread to block it.
    complete = b"GET /health HTTP/1.1\r\n" + host_header(server) + b"\r\n"
    partial = b"GET /health HTTP/1.1\r\n" + host_header(server)
    with raw(server, complete) as kept_alive, raw(server, complete + partial) as pipelined:
        assert read_responses(kept_alive, 1) == [200]
        kept_alive.sendall(partial)
        rest_kept = _wait_closed(kept_alive, HEADER_TIMEOUT_S + 30)
        rest_pipelined = _wait_closed(pipelined, HEADER_TIMEOUT_S + 30)
    assert b"HTTP/1.1 408 " in rest_kept
    assert rest_pipelined.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 408 " in rest_pipelined


def test_sigterm_with_slow_clients_held_drains_and_exits(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Slow connections must not hold up a graceful stop: they get a short grace, then the worker exits.
    env = {"HEADER_TIMEOUT_SECONDS": "60", "WEB_WORKER": "buffered"}
    server = start_server(tmp_path_factory.mktemp("drain"), workers=2, extra_env=env, wait=False)
    host, port = address(server)
    in_flight = http.client.HTTPConnection(host, port, timeout=30)
    loris: SlowLoris | None = None
    try:
        server.wait_ready()
        loris = SlowLoris(server, 50)
        assert wait_for(lambda: server_side_connections(server) >= 50, timeout=30)
        in_flight.request(
            "POST", "/load/cpu/work", body='{"cpu_ms": 300}', headers={"Content-Type": "application/json"}
        )
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        response = in_flight.getresponse()
        assert response.status == 200  # answered, not cut off
        assert server.proc.wait(30) == 0
        # serve promises an exit within 10 s of SIGTERM (it would SIGKILL a gunicorn that took longer); the slow
        # connections get 2 s of grace (measured: about 3 s from SIGTERM to exit).
        assert time.monotonic() - started < 10
        assert "Traceback" not in server.log()
    finally:
        in_flight.close()
        if loris is not None:
            loris.close()
        server.stop()
