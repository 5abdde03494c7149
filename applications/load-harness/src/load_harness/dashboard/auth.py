"""Dashboard login and logout. The API key is exchanged for a signed session cookie (HttpOnly, SameSite=Lax,
Secure over HTTPS); security/auth.py accepts that session on every path.

Flask's session is a signed cookie, not a server-side record, so "rotating the session id" means clearing the
session and issuing a new cookie with a new CSRF token: nothing from before the login survives it."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.context import ctx
from load_harness.dashboard.blueprint import bp
from load_harness.security.auth import SESSION_FLAG, key_matches
from load_harness.security.csrf import new_token

FAILED_LOGINS_PER_WINDOW = 5
WINDOW_S = 60.0
MAX_TRACKED_CLIENTS = 10_000

View = str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse


class FailedLogins:
    """Failed logins per client address in a sliding window.

    Kept in each web worker's memory: with W workers a client gets at most W × the limit per window. That
    bounds guessing just as well (a random API key is not guessable at 5 or 40 tries a minute), and a lost
    counter on restart costs nothing worth a store table."""

    def __init__(
        self, limit: int = FAILED_LOGINS_PER_WINDOW, window_s: float = WINDOW_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(failures[0] + self.window_s - now + 0.999))

    def record(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) >= MAX_TRACKED_CLIENTS:
                # Forget clients whose window has passed, so a spray of addresses cannot grow memory forever.
                for key in [k for k, v in self._failures.items() if not v or now - v[-1] >= self.window_s]:
                    del self._failures[key]
            failures = self._recent(client, now)
            failures.append(now)
            self._failures[client] = failures

    def clear(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


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
