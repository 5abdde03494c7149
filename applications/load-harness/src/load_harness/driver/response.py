"""Reading HTTP/1.x responses with llhttp (`httptools.HttpResponseParser`), one reader per connection.

llhttp (the parser of Node.js and uvicorn) does the framing in C: status line, Content-Length, chunked bodies,
interim 1xx responses, 204/304 without a body, keep-alive by version and `Connection`. This module adds only what
a load driver needs on top: the pod name (the `X-Pod-Name` header, else `pod_name` in a JSON body of at most
64 KiB), a bound on the response head (llhttp has none), HEAD responses (llhttp cannot know the request's method),
read-to-close bodies (httptools cannot tell llhttp about EOF), and noticing bytes after the response.

Every callback is a Python call per response, so they do the least they can: `on_header` looks at a name only when
its length is that of a name it wants. The parser object is reused for every response of the connection; nothing
is allocated per response beyond what httptools hands over.
"""

from __future__ import annotations

import re

from httptools import HttpParserError, HttpResponseParser

MAX_HEAD_BYTES = 64 * 1024  # a response head (status line and headers) past this is a protocol error
MAX_KEPT_BODY = 64 * 1024  # a pod name is looked for in small JSON bodies only

_POD_IN_BODY = re.compile(rb'"pod_name"\s*:\s*"([^"\\]{1,253})"')


class ProtocolError(Exception):
    """The peer sent something that is not an HTTP/1.x response."""


class _HeadDone(Exception):
    """Raised from on_headers_complete to stop llhttp at the end of a HEAD response's head.

    llhttp in response mode does not know the request was HEAD and would wait for the Content-Length body that
    never comes. httptools ignores the callback's return value (llhttp's "skip the body" signal), so the only way
    to stop it is an exception; the parser is then spent, and a HEAD connection takes a new one per response.
    """


class ResponseReader:
    """Feed bytes with `feed`; it returns True once a whole response has arrived.

    After completion: `status`, `pod`, `keep_alive`, and `extra` (bytes came after the response: the client never
    pipelines, so the connection is out of step and must not be reused). `reset()` prepares for the next response
    on the same connection; `received` says whether any byte of the current one has come.
    """

    __slots__ = (
        "_body",
        "_ctype",
        "_feed",
        "_framed",
        "_head_buf",
        "_head_seen",
        "_in_head",
        "_interim",
        "_keep_alive_now",
        "_keep_body",
        "_parser",
        "_status_now",
        "done",
        "extra",
        "head_request",
        "keep_alive",
        "pod",
        "received",
        "status",
    )

    def __init__(self, head_request: bool = False) -> None:
        self.head_request = head_request
        self._head_buf: bytearray | None = None
        self._body = b""
        self._keep_body = self._framed = self.keep_alive = False
        self._interim = 0
        self.pod: str | None = None
        self._ctype: bytes | None = None
        self._new_parser()
        self.reset()

    def _new_parser(self) -> None:
        # The parser keeps bound methods of this object (a reference cycle, collected with the connection); its
        # own methods are bound once here, not looked up per response.
        self._parser = parser = HttpResponseParser(self)
        self._feed = parser.feed_data
        self._status_now = parser.get_status_code
        self._keep_alive_now = parser.should_keep_alive

    def reset(self) -> None:
        """Before each request. What a response says is forgotten when the next one begins (on_message_begin);
        `keep_alive` is always set before `done`."""
        self.done = self.received = self.extra = False
        self.status = 0
        self._in_head = True
        self._head_seen = 0
        if self.head_request:
            self._new_parser()  # the previous one was stopped by _HeadDone
            self._head_buf = bytearray()
            self._interim = 0

    @property
    def reads_to_eof(self) -> bool:
        """The body ends when the server closes the connection: a final head came with no length, not chunked."""
        return self.status != 0 and not self.done and not self._framed

    def finish_at_eof(self) -> None:
        """The connection closed while reading a read-to-close body: that ends the response."""
        self._extract_pod_from_body()
        self.keep_alive = False
        self.done = True

    def feed(self, data: bytes | memoryview) -> bool:
        self.received = True
        head_buf = self._head_buf
        if head_buf is not None and self._in_head:
            head_buf += data  # HEAD only: to find where the head ended (bounded by the head check below)
        try:
            self._feed(data)
        except HttpParserError as exc:
            if not self.done:
                cause = exc.__context__  # set when one of our callbacks raised: name it, it is a bug of ours
                raise ProtocolError(f"{exc} ({cause!r})" if cause else str(exc) or type(exc).__name__) from None
            # After a complete response: either _HeadDone stopped llhttp, or the bytes that followed it are not a
            # response (llhttp refuses any data after `Connection: close`, or garbage).
            self.extra = self._bytes_after_head() if head_buf is not None else True
        if self.done:
            return True
        if self._in_head:
            # The whole chunk was head (the head is not complete yet): bound it, as llhttp does not.
            self._head_seen += len(data)
            if self._head_seen > MAX_HEAD_BYTES:
                raise ProtocolError("response head too large")
        return False

    def _bytes_after_head(self) -> bool:
        """HEAD: did bytes follow the final head? Each interim head and the final one end at the next CRLFCRLF."""
        assert self._head_buf is not None
        buf, end = self._head_buf, -4
        for _ in range(self._interim + 1):
            end = buf.find(b"\r\n\r\n", end + 4)
        return end >= 0 and len(buf) > end + 4

    def _head_keep_alive(self) -> bool:
        """HEAD: keep-alive by HTTP/1.x's rule (1.0 on request, 1.1 unless closed), from the buffered final head.

        llhttp's own verdict would take a head without a length for "read to close", as it cannot know there is no
        body; this is the only place the `Connection` header is read by hand, so on_header need not look for it.
        """
        assert self._head_buf is not None
        head = bytes(self._head_buf).lower()
        for _ in range(self._interim):
            head = head[head.find(b"\r\n\r\n") + 4 :]
        head = head[: head.find(b"\r\n\r\n") + 2]
        i = head.find(b"\r\nconnection:")
        connection = head[i + 13 : head.find(b"\r\n", i + 13)] if i >= 0 else b""
        if self._parser.get_http_version() == "1.0":
            return b"keep-alive" in connection
        return b"close" not in connection

    # -- llhttp callbacks, in the order llhttp makes them -------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True  # a second response after ours: never asked for
            return
        # The final response or an interim 1xx one begins: forget what the one before said.
        self.pod = self._ctype = None
        self._framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        # Dispatch on the length first: most headers (Date, Server, Connection) cost a len() and a few compares.
        n = len(name)
        if n == 14:
            if name == b"Content-Length" or name.lower() == b"content-length":
                self._framed = True
        elif n == 12:
            if name == b"Content-Type" or name.lower() == b"content-type":
                self._ctype = value  # looked at only if no X-Pod-Name came
        elif n == 10:
            # The first non-empty X-Pod-Name. Status is still 0 here, so a trailer of a chunked body cannot count.
            if name != b"Connection" and self.pod is None and self.status == 0 and name.lower() == b"x-pod-name":
                pod = value.strip()
                if pod:
                    self.pod = pod.decode("latin-1")
        elif n == 17 and name.lower() == b"transfer-encoding":
            self._framed = value.rstrip().lower().endswith(b"chunked")

    def on_headers_complete(self) -> None:
        if self.done:
            return
        status = self._status_now()
        if status < 200:
            return  # interim: llhttp reads it as a message without a body (101 makes it raise: not supported)
        self.status = status
        self._in_head = False
        ctype = self._ctype
        # JSON bodies are read for a pod name only if no header gave one; lower() only for a type with capitals.
        self._keep_body = (
            self.pod is None
            and ctype is not None
            and (b"json" in ctype or (not ctype.islower() and b"json" in ctype.lower()))
        )
        if self.head_request:
            self.keep_alive = self._head_keep_alive()
            self.done = True
            raise _HeadDone  # no body follows a HEAD response, whatever its headers say

    def on_body(self, body: bytes) -> None:
        if self._keep_body:
            if len(self._body) + len(body) <= MAX_KEPT_BODY:
                self._body += body
            else:
                self._keep_body = False  # too big to be the small JSON answer a pod name is read from
                self._body = b""

    def on_message_complete(self) -> None:
        if self.done:
            return
        if self.status == 0:
            self._interim += 1  # the end of an interim 1xx response; the final one follows
            return
        self.keep_alive = self._keep_alive_now()
        if self._body:
            self._extract_pod_from_body()
        self.done = True

    def _extract_pod_from_body(self) -> None:
        if self._keep_body and self._body:
            match = _POD_IN_BODY.search(self._body)
            if match:
                self.pod = match.group(1).decode("utf-8", "replace")
        self._body = b""
