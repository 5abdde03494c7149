"""What the browser tests share: the Chromium they drive, its deadlines, an app served on a free port, and a page
that fails the test on any console error or uncaught script error (a CSP violation included)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Deadlines, not expectations: a browser on a busy 2-core machine can take seconds for what takes 50 ms alone.
TIMEOUT_MS = 60_000
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"

BROWSER_TESTS = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)"),
]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 and a free port, in a thread, for as long as the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def watch_errors(page: Any) -> list[str]:
    """The console errors and uncaught exceptions the page will have; a test asserts the list stays empty."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh browser and page; on leaving, no console error or script error may have happened."""
    from playwright import sync_api

    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors = watch_errors(page)
        yield page
        browser.close()
    assert not errors, errors
