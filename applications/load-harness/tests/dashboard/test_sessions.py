"""Dashboard sessions are revocable server-side records (finding 9).

The cookie carries only a random session id; a row in the store decides whether it still counts. Logout deletes
the row (a stolen copy of the cookie dies with it, on every worker), a new API key ends every session even with
the same SECRET_KEY, and a session ends a fixed time after login however busy it is."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from lh_support import make_app
from load_harness.dashboard.blueprint import SESSION_LIFETIME
from load_harness.security import sessions
from load_harness.store.engine import make_engine
from load_harness.store.tables import dashboard_sessions

KEY = "s3cret-key"
SECRET = "one-secret-for-every-worker"  # as `load-harness serve` hands one SECRET_KEY to all its workers
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')
LIFETIME = SESSION_LIFETIME.total_seconds()


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _app(tmp_path: Path, api_key: str = KEY) -> Flask:
    """An app on the shared store under tmp_path: two of them stand for two workers or replicas."""
    return make_app(tmp_path, api_key=api_key, secret_key=SECRET)


def _token(client: FlaskClient, path: str = "/ui/login") -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def _login(client: FlaskClient, key: str = KEY, form_page: str = "/ui/login") -> Any:
    token = _token(client, form_page)
    response = client.post("/ui/login", data={"api_key": key, "csrf_token": token, "next": "/ui/"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def _logout(client: FlaskClient) -> None:
    assert client.post("/ui/logout", data={"csrf_token": _token(client, "/ui/")}).status_code == 302


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _browser_with(app: Flask, cookie: str) -> FlaskClient:
    """Another browser that holds a copy of a cookie (stolen, or just another tab)."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _signed_in(client: FlaskClient) -> bool:
    page, api = client.get("/ui/"), client.get("/load/cpu/status")
    assert (page.status_code == 200) == (api.status_code == 200), (page.status_code, api.status_code)
    if page.status_code == 302:
        assert page.headers["Location"].startswith("/ui/login")
        assert api.status_code == 401
    return page.status_code == 200


def _session_id(client: FlaskClient) -> str:
    with client.session_transaction() as cookie_session:
        value = cookie_session.get(sessions.SESSION_ID)
    assert isinstance(value, str)
    return value


def test_logout_revokes_every_copy_of_the_cookie(tmp_path: Path) -> None:
    app = _app(tmp_path)
    browser = app.test_client()
    _login(browser)
    thief = _browser_with(app, _cookie(browser))
    assert _signed_in(thief)  # a copy works while the session lives
    _logout(browser)
    assert not _signed_in(browser)
    assert not _signed_in(thief)


def test_logout_on_one_worker_ends_the_session_on_the_others_at_once(tmp_path: Path) -> None:
    first, second = _app(tmp_path), _app(tmp_path)
    browser = first.test_client()
    _login(browser)
    elsewhere = _browser_with(second, _cookie(browser))
    assert _signed_in(elsewhere)
    _logout(browser)
    assert not _signed_in(elsewhere)  # the very next request, no cache to wait out


def test_a_new_api_key_ends_every_session_even_with_the_same_secret_key(tmp_path: Path) -> None:
    old_key = _app(tmp_path)
    browser = old_key.test_client()
    _login(browser)
    cookie = _cookie(browser)
    assert not _signed_in(_browser_with(_app(tmp_path, api_key="rotated-key"), cookie))
    assert _signed_in(_browser_with(_app(tmp_path), cookie))  # control: only the key made the difference


def test_a_session_ends_at_a_fixed_time_after_login_however_busy(tmp_path: Path) -> None:
    app = _app(tmp_path)
    clock = Clock()
    sessions.install(app, sessions.Sessions(clock=clock))
    browser = app.test_client()
    _login(browser)
    for _ in range(8):  # busy all day long...
        clock.now += LIFETIME / 8 - 1
        assert _signed_in(browser)
        response = browser.get("/ui/")
        assert "Set-Cookie" not in response.headers  # ...and the cookie is not renewed along the way
    clock.now += 8
    assert not _signed_in(browser)  # ...yet it ends SESSION_LIFETIME after login
    _login(browser)  # logging in again starts a new one
    assert _signed_in(browser)


def test_a_signed_cookie_without_a_live_session_id_is_refused(tmp_path: Path) -> None:
    # Signed with the real SECRET_KEY, as an old cookie, or one forged with a leaked SECRET_KEY, would be.
    app = _app(tmp_path)
    for forged in (
        {"authenticated": True},  # what the cookie used to carry: a signed flag, good until SECRET_KEY changed
        {sessions.SESSION_ID: "made-up-session-id"},
        {sessions.SESSION_ID: "made-up-session-id", "authenticated": True},
    ):
        client = app.test_client()
        with client.session_transaction() as cookie_session:
            cookie_session.update(forged)
        assert not _signed_in(client), forged


def test_the_store_holds_a_hash_of_the_session_id_and_no_key(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    _login(client)
    session_id = _session_id(client)
    assert len(session_id) >= 43  # 32 random bytes, URL-safe base64
    with make_engine(f"sqlite:///{tmp_path / 'app.db'}").connect() as conn:
        rows = conn.execute(sa.select(dashboard_sessions)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.id == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in repr(tuple(row))
    assert KEY not in repr(tuple(row))
    assert row.expires_at - row.created_at == LIFETIME


def test_logging_in_again_issues_a_new_id_and_revokes_the_old_one(tmp_path: Path) -> None:
    app = _app(tmp_path)
    browser = app.test_client()
    _login(browser)
    first_cookie, first_id = _cookie(browser), _session_id(browser)
    _login(browser, form_page="/ui/")  # signed in, /ui/login would redirect; any page has the token
    assert _session_id(browser) != first_id
    assert _signed_in(browser)
    assert not _signed_in(_browser_with(app, first_cookie))
