"""A minimal keep-alive HTTP/1.1 client built on asyncio Protocols, tuned for per-request overhead (ADR 0007).

Every request goes out as one pre-built byte string on an idle connection (or a new one); the response is read by
llhttp (`driver/response.py`) inside `data_received` and reported through one callback, with no Task, Future or
timer per request. Timeouts are enforced by a periodic sweep over open connections instead of a timer per request.
The driver runs this on uvloop where it is installed (`driver/eventloop.py`); it works the same on asyncio's loop.

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
from typing import cast
from urllib.parse import urlsplit

from load_harness.driver.response import ProtocolError, ResponseReader

READ_BUFFER_BYTES = 64 * 1024  # the most one read takes; a bigger response takes several

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


def _not_connected(data: bytes) -> None:
    raise RuntimeError("a request was sent on a connection before it was made")


class Connection(asyncio.BufferedProtocol):
    """One keep-alive connection: at most one request in flight, its response read by a `ResponseReader`.

    The per-request path (`send`, `buffer_updated`, `_complete`) reads what it needs from attributes bound once
    per connection, so a request costs one `transport.write`, one `feed` and one callback into the runner.

    A buffered protocol: the loop reads into the client's one buffer, and llhttp parses it in place. A plain
    Protocol gets a new bytes object per read, and asyncio's own loop allocates 256 KiB for each (then shrinks
    it): depending on the heap's layout glibc serves that with an mmap and a munmap per read, which made the
    client 3 times slower (ADR 0007).
    """

    __slots__ = (
        "_buffer",
        "_idle",
        "_on_done",
        "_request",
        "_time",
        "_write",
        "client",
        "closed",
        "pending",
        "reader",
        "reused",
        "transport",
    )

    def __init__(self, client: Client) -> None:
        self.client = client
        self.reader = ResponseReader(client.target.is_head)
        self.pending: Pending | None = None
        self.closed = False
        self.reused = False
        self._request = client.target.request
        self._idle = client.idle
        self._on_done = client.on_done
        self._time = client.loop.time
        self._buffer = client.buffer
        self.transport: asyncio.Transport | None = None
        self._write: Callable[[bytes], object] = _not_connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but have its methods: no isinstance here.
        self.transport = tcp = cast(asyncio.Transport, transport)
        self._write = tcp.write
        self.client.open.add(self)

    def send(self, pending: Pending) -> None:
        self.pending = pending
        self.reader.reset()
        self._write(self._request)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.pending is None:
            self._abort()  # unsolicited bytes: the connection is no longer in a known state
            return
        try:
            done = self.reader.feed(self._buffer[:nbytes])
        except ProtocolError as exc:
            self._fail("other", f"ProtocolError: {exc}")
            return
        if done:
            self._complete()

    def eof_received(self) -> bool | None:
        return False  # close the transport; connection_lost does the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.open.discard(self)
        pending = self.pending
        if pending is None:
            return
        reader = self.reader
        if reader.reads_to_eof:
            reader.finish_at_eof()
            self._complete()
        elif self.reused and not reader.received and not pending.retried:
            # The server closed an idle keep-alive connection as we reused it: retry once, transparently.
            self.pending = None
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
        reader = self.reader
        self.pending = None
        if reader.keep_alive and not reader.extra and not self.closed:
            self.reused = True
            self._idle.append(self)
        else:
            self._abort()
        self._on_done(pending, reader.status, reader.pod, None, None, self._time())

    def _fail(self, error_class: str, detail: str) -> None:
        pending = self.pending
        self.pending = None
        self._abort()
        if pending is not None:
            self._on_done(pending, 0, None, error_class, detail, self._time())

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
        self.open: set[Connection] = set()  # every connected one, idle or busy: the sweep's round
        # Every connection reads into this one buffer: each read is parsed (and what is kept, copied) before the
        # loop reads again, so one buffer serves them all, and memory does not grow with the connection count.
        self.buffer = memoryview(bytearray(READ_BUFFER_BYTES))
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
            expired = [c for c in self.open if c.pending is not None and c.pending.deadline <= now]
            for conn in expired:
                conn.timed_out()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._connecting):
            task.cancel()
        for conn in list(self.open):
            conn._abort()
        self.idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks
