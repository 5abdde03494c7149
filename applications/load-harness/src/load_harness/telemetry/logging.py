"""Logging: JSON lines in a cluster (one object per line, with the request id), readable text on a laptop."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from load_harness.telemetry import tracing

if TYPE_CHECKING:
    from load_harness.settings import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the JSON line.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "component": self.component,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        span = tracing.current_ids()  # None unless tracing is on and a span is active
        if span is not None:
            entry["trace_id"], entry["span_id"] = span.trace_id, span.span_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Characters that end or rewrite a line in a terminal or a log viewer: C0 and C1 controls, DEL, and Unicode's line
# and paragraph separators. A request for `/x%0a12:00:00 INFO  web ...` must not print a second, forged record.
_CONTROL = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL}
_ESCAPES |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def escape_controls(value: object) -> str:
    """`str(value)` with every control character written as an escape (\\n, \\x1b, \\u2028), so it stays on one
    line. A backslash is left as it is: it cannot break a line."""
    return str(value).translate(_ESCAPES)


class TextFormatter(logging.Formatter):
    """One line per record on a laptop. Everything that can carry request data (the message and its arguments,
    extras, the request id) is escaped; only a traceback spans several lines, each continuation indented, so a
    line that starts at the margin is always a record."""

    def __init__(self, component: str) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.component = escape_controls(component)

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self.formatTime(record, self.datefmt)} {record.levelname:<7} {self.component} "
            f"{escape_controls(record.name)}: {escape_controls(record.getMessage())}"
        )
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        request_id = request_id_var.get()
        if request_id:
            extras["request_id"] = request_id
        if extras:
            line += " " + " ".join(f"{escape_controls(k)}={escape_controls(v)}" for k, v in extras.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, self.formatStack(record.stack_info) if record.stack_info else None):
            if block:
                # An exception's message may hold request data too: escape within each line, indent every line.
                line += "".join("\n    " + escape_controls(part) for part in block.rstrip("\n").split("\n"))
        return line


def configure_logging(settings: Settings, component: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(component) if settings.json_logs else TextFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Alembic narrates every plugin it loads at INFO; serve logs one line when it migrates.
    logging.getLogger("alembic").setLevel(logging.WARNING)
