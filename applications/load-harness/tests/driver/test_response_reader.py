"""The driver's response reader (llhttp through httptools) on its own: framings, pod attribution and protocol
errors, with the bytes arriving in pieces of every size."""

from __future__ import annotations

import pytest
from load_harness.driver.response import MAX_HEAD_BYTES, ProtocolError, ResponseReader


def feed_in_pieces(raw: bytes, size: int, head: bool = False) -> ResponseReader:
    reader = ResponseReader(head)
    done = False
    for i in range(0, len(raw), size):
        assert not done, "completed before the end of the response"
        done = reader.feed(raw[i : i + size])
    assert done
    return reader


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_reader_content_length_chunked_and_pod_header(size: int) -> None:
    fixed = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Pod-Name: web-1 \r\n\r\nhello"
    reader = feed_in_pieces(fixed, size)
    assert (reader.status, reader.pod, reader.keep_alive, reader.extra) == (201, "web-1", True, False)
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n"
        b'4;ext=1\r\n{"po\r\n10\r\nd_name": "web-2"\r\n1\r\n}\r\n0\r\nX-Pod-Name: trailer\r\n\r\n'
    )
    reader = feed_in_pieces(chunked, size)
    assert (reader.status, reader.pod) == (200, "web-2")  # no header: taken from the JSON body, not a trailer
    interim = b"HTTP/1.1 100 Continue\r\nX-Pod-Name: early\r\n\r\nHTTP/1.1 503 x\r\nContent-Length: 0\r\n\r\n"
    reader = feed_in_pieces(interim, size)
    assert (reader.status, reader.pod) == (503, None)  # what an interim response says does not count
    head = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
    reader = feed_in_pieces(head, size, head=True)
    assert (reader.status, reader.keep_alive, reader.extra) == (200, False, False)  # HEAD: no body despite the length


def test_reader_framing_variants() -> None:
    reader = feed_in_pieces(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 100)
    assert (reader.status, reader.keep_alive) == (204, False)
    reader = feed_in_pieces(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 100)
    assert (reader.status, reader.keep_alive) == (304, True)  # no body, whatever the length says
    reader = feed_in_pieces(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 100, head=True)
    assert (reader.status, reader.keep_alive) == (200, True)
    reader = ResponseReader()
    assert not reader.feed(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"pod_name":"p9"}')
    assert reader.reads_to_eof
    reader.finish_at_eof()
    assert (reader.status, reader.pod, reader.keep_alive) == (200, "p9", False)
    reader = ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    assert not reader.reads_to_eof  # a framed body cut short by a close is an error, not a response
    reader = feed_in_pieces(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 5)
    assert reader.keep_alive
    for garbage in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"):
        with pytest.raises(ProtocolError):
            ResponseReader().feed(garbage)
    with pytest.raises(ProtocolError, match="head too large"):
        ResponseReader().feed(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES)
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab")
    assert reader.extra  # a byte past the response: the client will not reuse this connection
    reader = ResponseReader(head_request=True)
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert reader.extra  # a HEAD response has no body: those bytes are stray
    big = b'{"pod_name": "p1", "pad": "' + b"x" * (64 * 1024) + b'"}'
    reader = feed_in_pieces(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big), 4096
    )
    assert reader.pod is None  # pod names are read from small JSON bodies only (64 KiB)
    plain = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n{"pod_name":"p"}'
    assert feed_in_pieces(plain, 3).pod is None  # and from JSON bodies only
