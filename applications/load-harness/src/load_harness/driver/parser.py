"""Incremental HTTP/1.1 response parser, one instance per connection.

Why not aiohttp: its client costs ~200 µs of Python per request (4.9 k req/s on one core, see docs/driver.md),
which caps a single driver process below what the measurement needs. A load driver only needs the status code,
the framing (Content-Length, chunked, or read-to-close), keep-alive, and one header (`X-Pod-Name`), so this parser
looks at exactly those and skips everything else. Bodies are only kept when the pod name must come from a JSON body.
"""

from __future__ import annotations

import re

MAX_HEAD_BYTES = 64 * 1024
MAX_KEPT_BODY = 64 * 1024  # a pod name is looked for in small JSON bodies only

_HEAD = 0
_LENGTH = 1
_CHUNKED = 2
_TO_EOF = 3
_DONE = 4

_CHUNK_SIZE = 0
_CHUNK_DATA = 1
_CHUNK_TRAILER = 2

_POD_IN_BODY = re.compile(rb'"pod_name"\s*:\s*"([^"\\]{1,253})"')


class ProtocolError(Exception):
    """The peer sent something that is not an HTTP/1.x response."""


def _header(lower: bytes, head: bytes, name: bytes) -> bytes | None:
    """Value of the first header `name` (given as b"\\r\\nname:"), from the original-case head."""
    i = lower.find(name)
    if i < 0:
        return None
    start = i + len(name)
    end = lower.find(b"\r\n", start)
    return head[start:end].strip()


class ResponseParser:
    """Feed bytes with `feed`; it returns True once a whole response has arrived.

    After completion: `status`, `pod`, `keep_alive`, and `extra` (bytes past the response: a protocol error for a
    client that never pipelines). `reset(head_request)` prepares it for the next response on the same connection.
    """

    __slots__ = (
        "_body",
        "_buf",
        "_chunk_state",
        "_head_request",
        "_keep_body",
        "_remaining",
        "_state",
        "extra",
        "keep_alive",
        "pod",
        "received",
        "status",
    )

    def __init__(self) -> None:
        self.reset(False)

    def reset(self, head_request: bool) -> None:
        self._head_request = head_request
        self._state = _HEAD
        self._buf = b""
        self._body = b""
        self._keep_body = False
        self._remaining = 0
        self._chunk_state = _CHUNK_SIZE
        self.status = 0
        self.pod: str | None = None
        self.keep_alive = True
        self.extra = b""
        self.received = False

    @property
    def reads_to_eof(self) -> bool:
        """The body ends when the server closes the connection (no length, not chunked)."""
        return self._state == _TO_EOF

    def finish_at_eof(self) -> None:
        """The connection closed while reading a read-to-close body: that ends the response."""
        self._state = _DONE
        self._extract_pod_from_body()

    def feed(self, data: bytes) -> bool:
        self.received = True
        if self._state == _HEAD:
            buf = self._buf + data if self._buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise ProtocolError("response head too large")
                self._buf = buf
                return False
            self._buf = b""
            data = buf[end + 4 :]
            self._parse_head(buf[: end + 2])
            if self.status < 200:
                # 1xx informational responses precede the real one (we never send Expect, but servers may).
                self.reset(self._head_request)
                self.received = True
                return self.feed(data) if data else False
        if self._state == _LENGTH:
            return self._feed_length(data)
        if self._state == _CHUNKED:
            return self._feed_chunked(data)
        if self._state == _TO_EOF:
            self._keep(data)
            return False
        # _DONE: bytes after a complete response
        self.extra += data
        return True

    def _parse_head(self, head: bytes) -> None:
        if not head.startswith(b"HTTP/1.") or len(head) < 12:
            raise ProtocolError("not an HTTP/1.x response")
        try:
            self.status = int(head[9:12])
        except ValueError:
            raise ProtocolError("bad status line") from None
        lower = head.lower()
        connection = _header(lower, lower, b"\r\nconnection:") or b""
        if head[7:8] == b"0":
            self.keep_alive = b"keep-alive" in connection
        else:
            self.keep_alive = b"close" not in connection
        pod = _header(lower, head, b"\r\nx-pod-name:")
        if pod:
            self.pod = pod.decode("latin-1")
        else:
            content_type = _header(lower, lower, b"\r\ncontent-type:") or b""
            self._keep_body = b"json" in content_type
        if self._head_request or self.status in (204, 304) or self.status < 200:
            self._finish_empty()
            return
        encoding = _header(lower, lower, b"\r\ntransfer-encoding:")
        if encoding is not None and b"chunked" in encoding:
            self._state = _CHUNKED
            self._chunk_state = _CHUNK_SIZE
            return
        length = _header(lower, lower, b"\r\ncontent-length:")
        if length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            if self._remaining < 0:
                raise ProtocolError("negative Content-Length")
            if self._remaining == 0:
                self._finish_empty()
                return
            self._state = _LENGTH
            return
        self._state = _TO_EOF
        self.keep_alive = False

    def _finish_empty(self) -> None:
        self._state = _DONE
        self._keep_body = False

    def _keep(self, data: bytes) -> None:
        if self._keep_body and len(self._body) + len(data) <= MAX_KEPT_BODY:
            self._body += data
        else:
            self._keep_body = False

    def _extract_pod_from_body(self) -> None:
        if self._keep_body and self._body:
            match = _POD_IN_BODY.search(self._body)
            if match:
                self.pod = match.group(1).decode("utf-8", "replace")
        self._body = b""

    def _feed_length(self, data: bytes) -> bool:
        n = len(data)
        if n < self._remaining:
            self._remaining -= n
            self._keep(data)
            return False
        self._keep(data[: self._remaining])
        self.extra = data[self._remaining :]
        self._remaining = 0
        self._state = _DONE
        self._extract_pod_from_body()
        return True

    def _feed_chunked(self, data: bytes) -> bool:
        buf = self._buf + data if self._buf else data
        self._buf = b""
        while True:
            if self._chunk_state == _CHUNK_SIZE:
                i = buf.find(b"\r\n")
                if i < 0:
                    return self._save(buf)
                try:
                    size = int(buf[:i].split(b";", 1)[0], 16)
                except ValueError:
                    raise ProtocolError("bad chunk size") from None
                buf = buf[i + 2 :]
                if size == 0:
                    self._chunk_state = _CHUNK_TRAILER
                else:
                    self._remaining = size + 2  # the chunk and its CRLF
                    self._chunk_state = _CHUNK_DATA
            elif self._chunk_state == _CHUNK_DATA:
                take = min(self._remaining, len(buf))
                self._keep(buf[: max(0, min(take, self._remaining - 2))])  # the data, not its CRLF
                self._remaining -= take
                buf = buf[take:]
                if self._remaining:
                    return False
                self._chunk_state = _CHUNK_SIZE
            else:
                i = buf.find(b"\r\n")
                if i < 0:
                    return self._save(buf)
                line = buf[:i]
                buf = buf[i + 2 :]
                if not line:
                    self.extra = buf
                    self._state = _DONE
                    self._extract_pod_from_body()
                    return True

    def _save(self, buf: bytes) -> bool:
        if len(buf) > MAX_HEAD_BYTES:
            raise ProtocolError("chunk header too large")
        self._buf = buf
        return False
