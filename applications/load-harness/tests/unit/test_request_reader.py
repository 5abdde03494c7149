"""The event loop's request reader: when bytes hold a whole request, and which requests it refuses itself; and
the hand-over, gunicorn's own parser reading a request from those bytes without touching a socket."""

from __future__ import annotations

import pytest
from gunicorn import http
from gunicorn.config import Config
from load_harness.server.request_reader import RequestReader, State, error_response

HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def feed_bytewise(reader: RequestReader, data: bytes) -> list[State]:
    return [reader.feed(data[i : i + 1]) for i in range(len(data))]


def test_headers_arriving_a_byte_at_a_time_complete_only_at_the_blank_line() -> None:
    reader = RequestReader()
    states = feed_bytewise(reader, HEAD + b"\r\n")
    assert states[-1] is State.COMPLETE
    assert set(states[:-1]) == {State.INCOMPLETE}
    assert bytes(reader.buffer) == HEAD + b"\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_must_be_complete(request_bytes: bytes) -> None:
    reader = RequestReader()
    body_from = request_bytes.index(b"\r\n\r\n") + 4
    assert reader.feed(request_bytes[:body_from]) is State.INCOMPLETE
    assert reader.headers_complete
    assert reader.feed(request_bytes[body_from:-1]) is State.INCOMPLETE
    assert reader.feed(request_bytes[-1:]) is State.COMPLETE


def test_a_pipelined_request_stays_in_the_buffer_unparsed() -> None:
    reader = RequestReader()
    second = b"GET /version HTTP/1.1\r\nHost: a\r\nX-Broken"
    assert reader.feed(HEAD + b"\r\n" + second) is State.COMPLETE
    assert bytes(reader.buffer).endswith(second)
    assert not reader.expects_continue


def test_an_upgrade_is_a_plain_request_whose_body_is_still_read_by_length() -> None:
    websocket = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    assert RequestReader().feed(websocket) is State.COMPLETE
    # `curl --http2` on an http:// URL: llhttp skips the body of an Upgrade request, the reader must not.
    h2c = b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    h2c += b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\n"
    reader = RequestReader()
    assert reader.feed(h2c + b"hel") is State.INCOMPLETE
    assert reader.feed(b"lo") is State.COMPLETE


def test_expect_continue_is_wanted_once_the_headers_are_in_and_no_body_came() -> None:
    reader = RequestReader()
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
    assert reader.feed(head) is State.INCOMPLETE
    assert not reader.wants_continue  # headers not complete yet
    reader.feed(b"\r\n")
    assert reader.wants_continue
    reader.feed(b"ab")
    assert not reader.wants_continue  # the client did not wait
    assert reader.feed(b"cd") is State.COMPLETE


def test_http_1_0_expect_is_ignored() -> None:
    reader = RequestReader()
    reader.feed(b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert not reader.wants_continue


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"1000\r\n" + b"x" * 4096 + b"\r\n") * 300, 413),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000, 431),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 900) for i in range(80)) + b"\r\n", 431),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ],
    ids=[
        "length-over-1mib",
        "chunked-over-1mib",
        "headers-never-end",
        "headers-over-64kib",
        "garbage",
        "two-lengths",
        "length-and-chunked",
    ],
)
def test_refused_requests(request_bytes: bytes, status: int) -> None:
    reader = RequestReader()
    assert reader.feed(request_bytes) is State.REJECTED
    assert reader.status == status
    assert reader.feed(b"more") is State.REJECTED  # nothing more is read


def test_error_response_is_complete_and_closes() -> None:
    head, _, body = error_response(408).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head


def test_gunicorn_parses_the_buffered_request_and_keeps_what_follows() -> None:
    """What the worker's hand-over does: a parser over an empty source, the request bytes unread into it."""
    body = b'{"cpu_ms": 1}'
    first = b"POST /load/cpu/work HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    parser = http.get_parser(Config(), (), ("127.0.0.1", 5555))
    parser.unreader.unread(first + b"GET /next HTTP/1.1\r\n")
    request = next(parser)
    assert (request.method, request.path) == ("POST", "/load/cpu/work")
    assert request.body.read() == body
    # The start of the next request is left for the worker's loop to read the rest of.
    assert parser.unreader.take_buffered() == b"GET /next HTTP/1.1\r\n"


def test_gunicorn_never_waits_when_the_bytes_end_early() -> None:
    parser = http.get_parser(Config(), (), ("127.0.0.1", 5555))
    parser.unreader.unread(HEAD)  # no blank line: incomplete
    with pytest.raises(http.errors.NoMoreData):
        next(parser)
