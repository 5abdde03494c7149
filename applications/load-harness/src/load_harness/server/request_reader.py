"""Knowing, without blocking, when the bytes of a connection hold one whole HTTP/1.x request.

The web worker's event loop feeds this whatever each non-blocking recv() returns. It parses with llhttp (through
httptools) only to learn where the request ends and whether it is too large; gunicorn parses the buffered bytes
again in a thread to build the WSGI environ, so what the app sees does not depend on this module.
"""

from __future__ import annotations

import enum

import httptools

HEADERS_MAX_BYTES = 64 * 1024
BODY_MAX_BYTES = 1024 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class State(enum.Enum):
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    REJECTED = "rejected"


class _Done(Exception):
    """Raised in on_message_complete: stops llhttp at the end of the first request, so a pipelined request
    behind it stays unparsed in the buffer for the next round."""


class RequestReader:
    """One request's bytes, from its first byte to its end. Not thread-safe; one per request."""

    def __init__(self, headers_max: int = HEADERS_MAX_BYTES, body_max: int = BODY_MAX_BYTES) -> None:
        self.headers_max = headers_max
        self.body_max = body_max
        self.buffer = bytearray()
        self.state = State.INCOMPLETE
        # The status to answer a rejected request with (400, 413 or 431).
        self.status = 0
        self.headers_complete = False
        self.expects_continue = False
        self._header_bytes = 0
        self._content_length = 0
        self._body_bytes = 0
        self._chunked = False
        # Where the body of an Upgrade request with a Content-Length ends: llhttp does not read such a body.
        self._upgrade_end = 0
        self._parser = httptools.HttpRequestParser(self)

    @property
    def wants_continue(self) -> bool:
        """True once the headers are in and the client waits for "100 Continue" before it sends the body."""
        return (
            self.state is State.INCOMPLETE
            and self.headers_complete
            and self.expects_continue
            and self._body_bytes == 0
            and self._parser.get_http_version() == "1.1"
        )

    def feed(self, data: bytes) -> State:
        """Add bytes read from the connection; returns what the buffer now holds."""
        if self.state is not State.INCOMPLETE or not data:
            return self.state
        self.buffer += data
        if not self._upgrade_end:
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                # Upgrade or CONNECT: llhttp stops after the headers. gunicorn answers it as a plain request.
                self.state = State.COMPLETE
            except httptools.HttpParserError:
                # A callback stopped the parser (_Done: the state is set) or the bytes are not HTTP.
                if self.state is State.INCOMPLETE and not self._upgrade_end:
                    self._reject(400)
        if self._upgrade_end and len(self.buffer) >= self._upgrade_end:
            self.state = State.COMPLETE
        if self.state is State.INCOMPLETE and not self.headers_complete and len(self.buffer) > self.headers_max:
            self._reject(431)
        return self.state

    def _reject(self, status: int) -> None:
        self.state = State.REJECTED
        self.status = status

    # llhttp callbacks (httptools' protocol). Each returns at once; sizes are checked as the bytes arrive.

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        lowered = name.lower()
        if lowered == b"expect" and value.strip().lower() == b"100-continue":
            self.expects_continue = True
        elif lowered == b"content-length" and value.strip().isdigit():
            # llhttp itself rejects a malformed or repeated Content-Length.
            self._content_length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            self._chunked = True

    def on_headers_complete(self) -> None:
        self.headers_complete = True
        if self._header_bytes > self.headers_max:
            self._reject(431)
        elif self._content_length > self.body_max:
            self._reject(413)
        if self.state is State.REJECTED:
            raise _Done

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.body_max:  # chunked bodies announce no length
            self._reject(413)
            raise _Done

    def on_message_complete(self) -> None:
        if self._parser.should_upgrade() and (self._content_length or self._chunked):
            # An Upgrade we will not perform (h2c from `curl --http2`, say) with a body: llhttp skipped the
            # body, so find its end by length. A chunked one is too rare to be worth a second parser.
            if self._chunked:
                self._reject(400)
            else:
                self._upgrade_end = self.buffer.find(b"\r\n\r\n") + 4 + self._content_length
            raise _Done
        self.state = State.COMPLETE
        raise _Done


def error_response(status: int) -> bytes:
    """A complete response that closes the connection, for a request the event loop refuses itself."""
    reasons = {
        400: "Bad Request",
        408: "Request Timeout",
        413: "Content Too Large",
        431: "Request Header Fields Too Large",
    }
    reason = reasons.get(status, "Error")
    body = f"{status} {reason}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
