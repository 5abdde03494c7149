"""Login, logout, redirects, the open-mode banner, session cookie flags and rotation, failed-login rate limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lh_support import make_app
from load_harness import limits as L
from load_harness.security.throttle import AuthThrottle
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade

KEY = "s3cret-key"


@pytest.fixture
def secured(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(api_key=KEY)


def _token(client: Any, path: str = "/ui/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def _login(client: Any, key: str = KEY, next_path: str = "/ui/", **kwargs: Any) -> Any:
    token = _token(client)
    return client.post("/ui/login", data={"api_key": key, "csrf_token": token, "next": next_path}, **kwargs)


@pytest.mark.parametrize(
    "path", ["/ui/", "/ui/runs", "/ui/partials/active", "/ui/partials/metrics", "/ui/tabs/cpu", "/ui/runs/x"]
)
def test_pages_redirect_to_login_without_a_session(secured: Flask, path: str) -> None:
    response = secured.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/login?next=")


def test_login_page_is_public_and_has_a_labelled_field(secured: Flask) -> None:
    html = secured.test_client().get("/ui/login").get_data(as_text=True)
    assert '<label for="api_key">' in html
    assert 'type="password"' in html


def test_wrong_key_is_refused_with_a_message(secured: Flask) -> None:
    response = _login(secured.test_client(), key="wrong")
    assert response.status_code == 401
    assert "That API key is not valid." in response.get_data(as_text=True)


def test_right_key_logs_in_and_redirects_to_next(secured: Flask) -> None:
    client = secured.test_client()
    response = _login(client, next_path="/ui/runs")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/runs"
    assert client.get("/ui/").status_code == 200
    # The session also authenticates the JSON API, as security/auth.py promises.
    assert client.get("/load/cpu/status").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui", "/load/cpu", "/ui\\..\\x"])
def test_next_never_leaves_the_dashboard(secured: Flask, target: str) -> None:
    response = _login(secured.test_client(), next_path=target)
    assert response.headers["Location"] == "/ui/"


def test_session_cookie_flags(secured: Flask) -> None:
    response = _login(secured.test_client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on localhost


def test_session_cookie_is_secure_over_https(secured: Flask) -> None:
    client = secured.test_client()
    token = _token(client)
    response = client.post(
        "/ui/login",
        data={"api_key": KEY, "csrf_token": token, "next": "/ui/"},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_rotates_the_session_and_its_csrf_token(secured: Flask) -> None:
    client = secured.test_client()
    before = _token(client)
    cookie_before = client.get_cookie("session")
    assert cookie_before is not None
    _login(client)
    after = _token(client, "/ui/")
    cookie_after = client.get_cookie("session")
    assert cookie_after is not None
    assert after != before
    assert cookie_after.value != cookie_before.value


def test_failed_logins_are_rate_limited(secured: Flask) -> None:
    client = secured.test_client()
    for _ in range(L.AUTH_FAILURES_PER_WINDOW):
        assert _login(client, key="wrong").status_code == 401
    blocked = _login(client, key=KEY)  # even the right key waits: otherwise guessing goes on
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed logins" in blocked.get_data(as_text=True)


def test_rate_limit_window_slides(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    upgrade(engine)
    now = [1000.0]
    limiter = AuthThrottle(limit=2, window_s=60, clock=lambda: now[0], engine=lambda: engine)
    assert limiter.fail("a") == 0
    assert limiter.fail("a") == 0
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") == 0
    now[0] += 30
    assert limiter.retry_after("a") == 30
    now[0] += 30
    assert limiter.retry_after("a") == 0


def test_the_limit_holds_across_workers(tmp_path: Path) -> None:
    """Two apps on one store stand for two gunicorn workers (or two replicas): failures on one count on the other."""
    first, second = (make_app(tmp_path, api_key=KEY) for _ in range(2))
    one, other = first.test_client(), second.test_client()
    for attempt in range(L.AUTH_FAILURES_PER_WINDOW):
        assert _login(one if attempt % 2 else other, key="wrong").status_code == 401
    assert _login(one, key=KEY).status_code == 429
    assert _login(other, key=KEY).status_code == 429


def test_logout_ends_the_session(secured: Flask) -> None:
    client = secured.test_client()
    _login(client)
    token = _token(client, "/ui/")
    response = client.post("/ui/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/login"
    assert client.get("/ui/").status_code == 302


def test_open_mode_shows_a_banner_and_skips_login(ui: Any) -> None:
    html = ui.get("/ui/").get_data(as_text=True)
    assert "Authentication is off." in html
    response = ui.get("/ui/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/"


def test_logged_in_pages_have_no_banner(secured: Flask) -> None:
    client = secured.test_client()
    _login(client)
    html = client.get("/ui/").get_data(as_text=True)
    assert "Authentication is off." not in html
    assert "Log out" in html
