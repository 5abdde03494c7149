"""Dashboard login and logout. The API key is exchanged for a signed session cookie (HttpOnly, SameSite=Lax,
Secure over HTTPS); security/auth.py accepts that session on every path.

Flask's session is a signed cookie, not a server-side record, so "rotating the session id" means clearing the
session and issuing a new cookie with a new CSRF token: nothing from before the login survives it."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import redirect, render_template, request, session, url_for
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.context import ctx
from load_harness.dashboard.blueprint import bp
from load_harness.security.auth import SESSION_FLAG, key_matches
from load_harness.security.csrf import new_token
from load_harness.store import logins

FAILED_LOGINS_PER_WINDOW = 5
WINDOW_S = 60.0

View = str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse


class FailedLogins:
    """Failed logins per client address in a sliding window, counted in the store, so the limit holds across
    every web worker and replica (an in-memory count would allow the limit once per worker)."""

    def __init__(
        self,
        limit: int = FAILED_LOGINS_PER_WINDOW,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
        engine: Callable[[], Engine] = lambda: ctx().engine,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.engine = engine

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may try now."""
        now = self.clock()
        failures = logins.failures_since(self.engine(), client, now - self.window_s)
        if len(failures) < self.limit:
            return 0
        return max(1, int(failures[-self.limit] + self.window_s - now + 0.999))

    def record(self, client: str) -> None:
        now = self.clock()
        logins.record_failure(self.engine(), client, now, forget_before=now - self.window_s)

    def clear(self, client: str) -> None:
        logins.clear(self.engine(), client)


FAILED = FailedLogins()


def auth_enabled() -> bool:
    return bool(ctx().settings.api_key)


def safe_next(target: str | None) -> str:
    """Only paths inside the dashboard: never another host (//evil.example) or a scheme."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


def _client() -> str:
    return request.remote_addr or "unknown"


def _login_page(error: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> View:
    page = render_template("dashboard/auth/login.html", error=error, next=safe_next(request.values.get("next")))
    return page, status, headers or {}


@bp.get("/login")
def login() -> View:
    if not auth_enabled() or session.get(SESSION_FLAG) is True:
        return redirect(safe_next(request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_submit() -> View:
    if not auth_enabled():
        return redirect(url_for("dashboard.index"))
    client = _client()
    wait = FAILED.retry_after(client)
    if wait:
        message = f"Too many failed logins from your address. Try again in {wait} s."
        return _login_page(message, 429, {"Retry-After": str(wait)})
    if not key_matches(request.form.get("api_key"), ctx().settings.api_key):
        FAILED.record(client)
        return _login_page("That API key is not valid.", 401)
    FAILED.clear(client)
    target = safe_next(request.form.get("next"))
    session.clear()
    session.permanent = True
    session[SESSION_FLAG] = True
    session["login_at"] = int(time.time())
    new_token()
    return redirect(target)


@bp.get("/logout")
def logout_confirm() -> View:
    # Logging out changes state, so it is a POST; a GET only shows the button (a link cannot log anyone out).
    return render_template("dashboard/auth/logout.html")


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    session.clear()
    new_token()
    return redirect(url_for("dashboard.login") if auth_enabled() else url_for("dashboard.index"))
