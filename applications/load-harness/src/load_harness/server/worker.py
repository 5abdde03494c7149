"""The web worker: gunicorn's gthread, except that a thread only ever sees a request that has fully arrived.

gthread hands each new connection to a thread, which waits up to 5 s for a first byte and then blocks until the
headers are complete, however slowly they come: 16 clients sending a header line every few seconds hold all 16
threads, and /health queues behind them (ADR 0006). Here the worker's own selector loop reads every request
without blocking, until llhttp (server/request_reader.py) says it is complete: headers, and the body by
Content-Length or chunked. Only then is the connection handed to a thread, with gunicorn's parser reading from the
buffered bytes instead of the socket, so gunicorn still builds the request and the WSGI environ as it always did
and the thread can never wait on the client. A request whose headers are not in within HEADER_TIMEOUT_SECONDS, or
which is not whole within REQUEST_READ_TIMEOUT_SECONDS, is answered 408 and closed. Too-large requests are refused
from the loop (431, 413) before their bytes pile up.

Everything else is gthread's: accepting up to worker_connections, keep-alive, the heartbeat, graceful shutdown.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.errors import ConfigError
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from load_harness.server.request_reader import (
    BODY_MAX_BYTES,
    CONTINUE,
    HEADERS_MAX_BYTES,
    RequestReader,
    State,
    error_response,
)

RECV_BYTES = 64 * 1024


@dataclass(eq=False)
class _Pending:
    """A connection whose next request is being read by the event loop."""

    conn: TConn
    reader: RequestReader
    started: float
    deadline: float
    body_phase: bool = False
    continued: bool = False


class BufferedThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = 10.0
        self.request_timeout = 30.0
        self.body_max = BODY_MAX_BYTES
        self._reading: dict[TConn, _Pending] = {}
        # (deadline, tie-breaker, pending); entries go stale when a connection moves on, and are skipped then.
        self._deadlines: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()
        self._stop_capped = False

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        # TLS and HTTP/2 need a blocking handshake or their own framing; this worker reads plain HTTP/1.x only.
        if cfg.is_ssl or "h2" in (cfg.http_protocols or ()) or getattr(cfg, "protocol", "http") != "http":
            raise ConfigError("BufferedThreadWorker serves plain HTTP/1.x: no TLS, HTTP/2 or uwsgi protocol")

    def init_process(self) -> None:
        # Imported here: the worker class is loaded by the master, settings are read in the worker.
        from load_harness.settings import get_settings

        settings = get_settings()
        self.header_timeout = settings.header_timeout_seconds
        self.request_timeout = max(settings.request_read_timeout_seconds, self.header_timeout)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # One limit for the body: Flask's own, when the app is a Flask app.
        config = getattr(self.wsgi, "config", None)
        limit = config.get("MAX_CONTENT_LENGTH") if isinstance(config, dict) else None
        self.body_max = int(limit) if limit else BODY_MAX_BYTES

    # --- Reading: every way gthread hands a connection to a thread (new, kept alive and readable again, or
    # with a pipelined request already buffered) calls enqueue_req, which now reads the request first.

    def enqueue_req(self, conn: TConn) -> None:
        # Bytes gunicorn's parser read beyond the previous request: the start of the next one.
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        now = time.monotonic()
        pending = _Pending(conn, RequestReader(HEADERS_MAX_BYTES, self.body_max), now, now + self.header_timeout)
        if not self.alive:  # stopping: a request begun on a kept-alive connection now gets the short grace too
            pending.deadline = min(pending.deadline, now + STOP_KEEPALIVE_LINGER)
        try:
            conn.sock.setblocking(False)
        except OSError:
            self._close(pending)
            return
        if leftover and self._advance(pending, leftover):
            return
        # Usually the request is there already (the poller just saw a kept-alive connection readable, or the
        # client wrote right after connecting): reading it now saves a turn of the loop per request.
        if self._read(pending):
            return
        self._reading[conn] = pending
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, pending))
        self._push_deadline(pending)

    def _on_readable(self, pending: _Pending, _sock: socket.socket) -> None:
        self._read(pending)

    def _read(self, pending: _Pending) -> bool:
        """One non-blocking recv; True when the connection has left the loop (to a thread, or closed)."""
        try:
            data = pending.conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:  # the client closed or reset the connection
            self._forget(pending)
            self._close(pending)
            return True
        return self._advance(pending, data)

    def _advance(self, pending: _Pending, data: bytes) -> bool:
        """Feed bytes to the reader; True when the connection has left the loop (to a thread, or closed)."""
        reader = pending.reader
        state = reader.feed(data)
        if state is State.INCOMPLETE:
            if reader.headers_complete and not pending.body_phase:
                pending.body_phase = True
                pending.deadline = pending.started + self.request_timeout
                self._push_deadline(pending)
            if reader.wants_continue and not pending.continued:
                # curl and others wait up to 1 s for this before sending a body; a thread would send it only
                # when the app reads the body, and the app runs only once the body is here.
                pending.continued = True
                if not self._send(pending.conn, CONTINUE):
                    self._forget(pending)
                    self._close(pending)
                    return True
            return False
        self._forget(pending)
        if state is State.COMPLETE:
            self._hand_over(pending)
        else:
            self._send(pending.conn, error_response(reader.status))
            self._close(pending)
        return True

    def _hand_over(self, pending: _Pending) -> None:
        conn = pending.conn
        if conn.parser is None:
            # As gthread does for h2c (a parser, then unread), but reading from memory, never the socket: with an
            # empty source it sees exactly the buffered bytes, and a disagreement ends in NoMoreData, not a wait.
            conn.parser = http.get_parser(self.cfg, (), conn.client)
        conn.parser.unreader.unread(bytes(pending.reader.buffer))
        conn.data_ready = True  # gthread's handle() would otherwise wait for the socket to be readable
        super().enqueue_req(conn)

    def handle_request(self, req: Any, conn: TConn) -> Any:
        # The body is already here; 100 Continue was sent by the loop if the client waited for it.
        req._expected_100_continue = False
        return super().handle_request(req, conn)

    # --- Deadlines, checked by gthread's loop about once a second (it calls murder_pending in both its loops).

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and not self._stop_capped:
            self._stop_capped = True
            self._cap_reading(now + STOP_KEEPALIVE_LINGER)
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, pending = heapq.heappop(self._deadlines)
            if self._reading.get(pending.conn) is not pending or pending.deadline != deadline:
                continue  # stale: the connection moved on or got a later deadline
            self._forget(pending)
            if pending.reader.buffer:  # a request had begun: tell the client why it is cut off
                self._send(pending.conn, error_response(408))
            self._close(pending)

    def _cap_reading(self, deadline: float) -> None:
        """Stopping: connections that have sent nothing are closed now, requests under way get a short grace."""
        for pending in list(self._reading.values()):
            if not pending.reader.buffer:
                self._forget(pending)
                self._close(pending)
            elif pending.deadline > deadline:
                pending.deadline = deadline
                self._push_deadline(pending)

    def _push_deadline(self, pending: _Pending) -> None:
        heapq.heappush(self._deadlines, (pending.deadline, next(self._order), pending))
        if len(self._deadlines) > 2 * len(self._reading) + 64:
            # Entries of requests long handed over would otherwise keep their buffers (up to a 1 MiB body each)
            # alive until their deadline passed: at 3000 req/s, 30 000 of them. Rebuilding is amortised O(1).
            live = [(p.deadline, next(self._order), p) for p in self._reading.values()]
            heapq.heapify(live)
            self._deadlines = live

    def _forget(self, pending: _Pending) -> None:
        if self._reading.pop(pending.conn, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(pending.conn.sock)

    def _close(self, pending: _Pending) -> None:
        self.nr_conns -= 1
        pending.conn.close()

    @staticmethod
    def _send(conn: TConn, data: bytes) -> bool:
        """One non-blocking send of a small message into an empty socket buffer; False if it did not all go."""
        try:
            return conn.sock.send(data) == len(data)
        except OSError:
            return False
