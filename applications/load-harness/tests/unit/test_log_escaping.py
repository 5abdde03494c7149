"""Logs cannot be forged: whatever a request carries, one log record is one line (text) or one JSON object."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from flask import Flask
from load_harness.telemetry.logging import JsonFormatter, TextFormatter, escape_controls, request_id_var

# A path whose %0a would start a second, forged record in the text log; then a CR, and Unicode's line separator.
FORGED = "/x%0a2026-01-01%20INFO%20fake"
OTHER_BREAKS = ["/y%0d12:00:00%20INFO%20fake", "/z%E2%80%A8fake", "/w%E2%80%A9fake", "/v%C2%85fake", "/u%1b[2Kfake"]


@pytest.fixture
def access_log() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """The app's access log, captured through a handler whose formatter each test chooses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("load_harness.access")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream, handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_a_newline_in_the_path_writes_one_text_line(
    app: Flask, access_log: tuple[io.StringIO, logging.Handler]
) -> None:
    stream, handler = access_log
    handler.setFormatter(TextFormatter("web"))
    assert app.test_client().get(FORGED).status_code == 404
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "GET /x\\n2026-01-01 INFO fake 404" in lines[0]


@pytest.mark.parametrize("path", OTHER_BREAKS)
def test_other_line_breaks_and_controls_are_escaped_too(
    app: Flask, access_log: tuple[io.StringIO, logging.Handler], path: str
) -> None:
    stream, handler = access_log
    handler.setFormatter(TextFormatter("web"))
    app.test_client().get(path)
    text = stream.getvalue()
    assert text.endswith("\n")
    # str.splitlines splits on every Unicode line boundary (\r, \x85, \u2028, ...), not only \n.
    assert len(text.splitlines()) == 1, text
    assert "\x1b" not in text


def test_json_lines_are_safe_by_construction(app: Flask, access_log: tuple[io.StringIO, logging.Handler]) -> None:
    stream, handler = access_log
    handler.setFormatter(JsonFormatter("web"))
    client = app.test_client()
    for path in (FORGED, *OTHER_BREAKS):
        client.get(path)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 + len(OTHER_BREAKS)
    entries = [json.loads(line) for line in lines]
    assert entries[0]["msg"] == "GET /x\n2026-01-01 INFO fake 404"  # the data survives, escaped by json.dumps


@pytest.fixture
def request_id() -> Iterator[None]:
    """A request id with a newline in it (the app only takes printable ones, but nothing else guarantees it)."""
    token = request_id_var.set("id\nforged")
    yield
    request_id_var.reset(token)


@pytest.mark.usefixtures("request_id")
def test_extras_and_the_request_id_are_escaped() -> None:
    record = logging.makeLogRecord(
        {"name": "load_harness.x", "levelname": "INFO", "msg": "run %s", "args": ("a\r\nb",), "route": "r\n1"}
    )
    line = TextFormatter("web").format(record)
    assert "\n" not in line
    assert "\r" not in line
    assert line.endswith("run a\\r\\nb route=r\\n1 request_id=id\\nforged")


@pytest.mark.usefixtures("request_id")
def test_a_traceback_keeps_its_lines_but_each_is_indented() -> None:
    try:
        raise ValueError("bad input\n12:00:00 INFO    web load_harness.access: GET / 200")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {"name": "load_harness.x", "levelname": "ERROR", "msg": "failed", "exc_info": exc_info}
    )
    first, *rest = TextFormatter("web").format(record).split("\n")
    assert first.endswith("failed request_id=id\\nforged")
    assert any("ValueError: bad input" in line for line in rest), "the traceback is kept"
    # A line that starts at the margin is always a record; the forged one inside the message is indented.
    assert all(line.startswith("    ") for line in rest), rest


def test_escape_controls_covers_c0_c1_and_unicode_separators() -> None:
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)]
    escaped = escape_controls("".join(controls))
    assert escaped.isprintable()
    assert escaped.startswith("\\x00\\x01")
    assert "\\n" in escaped
    assert escaped.endswith("\\x9f\\u2028\\u2029")
    assert escape_controls("café ✓ C:\\path") == "café ✓ C:\\path"  # text, and backslashes, stay as they are
