"""A minimal keep-alive HTTP/1.1 client built on asyncio Protocols, tuned for per-request overhead.

Every request goes out as one pre-built byte string on an idle connection (or a new one); the response is parsed
by `ResponseParser` inside `data_received` and reported through one callback, with no Task, Future or timer per
request. Timeouts are enforced by a periodic sweep over busy connections instead of a timer per request.

Reconnects are transparent: a response with `Connection: close` (nginx sends one on the 1000th request of a
keep-alive connection) retires the connection, and a request that finds its reused connection closed before any
byte of the response arrived is retried once on a new connection, as browsers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from load_harness.driver.parser import ProtocolError, ResponseParser

# on_done(pending, status, pod, error_class, error_detail, end_time): status 0 means no response.
DoneCallback = Callable[["Pending", int, "str | None", "str | None", "str | None", float], None]


class DriverError(Exception):
    """A problem that makes the run impossible (bad URL, unknown host): reported before any request."""


class Pending:
    """One request in flight. `scheduled` is its intended start (open loop), `sent` its actual start."""

    __slots__ = ("deadline", "retried", "scheduled", "sent")

    def __init__(self, scheduled: float) -> None:
        self.scheduled = scheduled
        self.sent = 0.0
        self.deadline = 0.0
        self.retried = False


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    request: bytes
    is_head: bool

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def build_target(url: str, method: str = "GET", headers: tuple[tuple[str, str], ...] = (), body: bytes = b"") -> Target:
    """Parse the URL and pre-build the request bytes, identical for every request of the run."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DriverError(f"URL must be http:// or https:// with a host: {url!r}")
    try:
        explicit_port = parts.port
    except ValueError:
        raise DriverError(f"bad port in URL {url!r}") from None
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    host_header = parts.hostname if explicit_port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname and explicit_port is not None:
        host_header = f"[{parts.hostname}]:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    method = method.upper()
    names = {name.lower() for name, _ in headers}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    if "user-agent" not in names:
        lines.append("User-Agent: load-harness-driver")
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "content-length"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return Target(parts.scheme, parts.hostname, port, request, method == "HEAD")


def raise_fd_limit() -> None:
    """Each connection is a file descriptor: lift the soft limit to the hard one (often 1024 vs 1M)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass  # not fatal: the in-flight cap and connect errors still bound the damage


class Connection(asyncio.Protocol):
    __slots__ = ("client", "closed", "parser", "pending", "reused", "transport")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.pending: Pending | None = None
        self.closed = False
        self.reused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, pending: Pending) -> None:
        assert self.transport is not None
        self.pending = pending
        self.parser.reset(self.client.target.is_head)
        self.client.busy.add(self)
        self.transport.write(self.client.target.request)

    def data_received(self, data: bytes) -> None:
        if self.pending is None:
            self._abort()  # unsolicited bytes: the connection is no longer in a known state
            return
        try:
            done = self.parser.feed(data)
        except ProtocolError as exc:
            self._fail("other", f"ProtocolError: {exc}")
            return
        if done:
            self._complete()

    def eof_received(self) -> bool | None:
        return False  # close the transport; connection_lost does the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending = self.pending
        if pending is None:
            return
        if self.parser.reads_to_eof:
            self.parser.finish_at_eof()
            self._complete()
        elif self.reused and not self.parser.received and not pending.retried:
            # The server closed an idle keep-alive connection as we reused it: retry once, transparently.
            self.pending = None
            self.client.busy.discard(self)
            pending.retried = True
            self.client.reconnects += 1
            self.client.open_and_send(pending)
        else:
            self._fail("other", type(exc).__name__ if exc else "ServerDisconnected")

    def timed_out(self) -> None:
        self._fail("timeout", "Timeout")

    def _complete(self) -> None:
        pending = self.pending
        assert pending is not None
        parser = self.parser
        self.pending = None
        client = self.client
        client.busy.discard(self)
        if parser.keep_alive and not parser.extra and not self.closed:
            self.reused = True
            client.idle.append(self)
        else:
            self._abort()
        client.on_done(pending, parser.status, parser.pod, None, None, client.loop.time())

    def _fail(self, error_class: str, detail: str) -> None:
        pending = self.pending
        self.pending = None
        self.client.busy.discard(self)
        self._abort()
        if pending is not None:
            self.client.on_done(pending, 0, None, error_class, detail, self.client.loop.time())

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Client:
    """Connection pool plus dispatch. `dispatch(pending)` starts a request now; `on_done` reports it."""

    def __init__(self, target: Target, timeout_s: float, on_done: DoneCallback, insecure: bool = False) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.on_done = on_done
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.busy: set[Connection] = set()
        self.addresses: list[str] = []
        self.connects = 0
        self.reconnects = 0
        self._next_address = 0
        self._ssl: ssl.SSLContext | None = None
        if target.tls:
            self._ssl = ssl.create_default_context()
            if insecure:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._sweeper: asyncio.Task[None] | None = None
        self._connecting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Resolve the host once (fail fast on a bad name) and start the timeout sweeper."""
        raise_fd_limit()
        try:
            infos = await self.loop.getaddrinfo(self.target.host, self.target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DriverError(f"cannot resolve {self.target.host!r}: {exc}") from None
        # Keep every address so a headless Service's pods all get connections, in round-robin.
        self.addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._sweeper = self.loop.create_task(self._sweep())

    async def _connect(self, address: str, timeout_s: float) -> Connection:
        """One new connection to `address` (TLS when the target is https), within `timeout_s`."""
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: Connection(self),
                address,
                self.target.port,
                ssl=self._ssl,
                server_hostname=self.target.host if self._ssl else None,
            ),
            timeout_s,
        )
        return conn

    async def warm(self, count: int) -> None:
        """Open `count` idle connections before the clock starts, as wrk does.

        Without this, the first second of a fast open-loop run is a connect storm: each connect costs more than
        the interval between arrivals, in-flight requests pile up, and the start looks like a stall of the target.
        Failures are ignored here; the run itself reports (and, if nothing connects, aborts on) them.
        """

        async def one(address: str) -> None:
            with contextlib.suppress(OSError, TimeoutError):
                conn = await self._connect(address, self.timeout_s)
                self.connects += 1
                self.idle.append(conn)

        addresses = [self.addresses[i % len(self.addresses)] for i in range(count)]
        self._next_address = count
        await asyncio.gather(*(one(address) for address in addresses))

    def dispatch(self, pending: Pending) -> None:
        now = self.loop.time()
        pending.sent = now
        pending.deadline = now + self.timeout_s
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.send(pending)
                return
        self.open_and_send(pending)

    def open_and_send(self, pending: Pending) -> None:
        task = self.loop.create_task(self._open_and_send(pending))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _open_and_send(self, pending: Pending) -> None:
        address = self.addresses[self._next_address % len(self.addresses)]
        self._next_address += 1
        remaining = pending.deadline - self.loop.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            conn = await self._connect(address, remaining)
        except TimeoutError:
            self.on_done(pending, 0, None, "connect", "ConnectTimeout", self.loop.time())
            return
        except OSError as exc:
            self.on_done(pending, 0, None, "connect", type(exc).__name__, self.loop.time())
            return
        self.connects += 1
        conn.send(pending)

    async def _sweep(self) -> None:
        interval = min(0.1, max(0.01, self.timeout_s / 10))
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            expired = [c for c in self.busy if c.pending is not None and c.pending.deadline <= now]
            for conn in expired:
                conn.timed_out()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._connecting):
            task.cancel()
        for conn in self.idle + list(self.busy):
            conn._abort()
        self.idle.clear()
        self.busy.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks
