"""Dashboard login and logout. The API key is exchanged for a server-side session (security/sessions.py): the
signed cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) carries only its random id, and security/auth.py checks
that id against the store on every path.

Login clears the session and issues a new id with a new CSRF token: nothing from before the login survives it.
Logout deletes the session's row, so even a copy of the cookie stops working. A session ends SESSION_LIFETIME
after login however busy it is, and as soon as the API key changes.

Failed logins share the per-client failure budget of every other way of presenting the key
(security/throttle.py): guesses at the form and at the API add up to one limit."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.context import ctx
from load_harness.dashboard.blueprint import SESSION_LIFETIME, bp
from load_harness.security import sessions, throttle
from load_harness.security.throttle import key_matches

View = str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse


def auth_enabled() -> bool:
    return bool(ctx().settings.api_key)


def safe_next(target: str | None) -> str:
    """Only paths inside the dashboard: never another host (//evil.example) or a scheme."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


def _login_page(error: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> View:
    page = render_template("dashboard/auth/login.html", error=error, next=safe_next(request.values.get("next")))
    return page, status, headers or {}


def _too_many(wait: int) -> View:
    message = f"Too many failed logins from your address. Try again in {wait} s."
    return _login_page(message, 429, {"Retry-After": str(wait)})


@bp.context_processor
def _inject_signed_in() -> dict[str, object]:
    # A function, not a value: only pages that show the logout button ask the store.
    return {"signed_in": sessions.signed_in}


@bp.get("/login")
def login() -> View:
    if not auth_enabled() or sessions.signed_in():
        return redirect(safe_next(request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_submit() -> View:
    if not auth_enabled():
        return redirect(url_for("dashboard.index"))
    limiter, client = throttle.current(), throttle.client_address()
    # Checked before the key is compared: while blocked, the right key gets the same answer as a wrong one.
    wait = limiter.retry_after(client)
    if wait:
        return _too_many(wait)
    if not key_matches(request.form.get("api_key"), ctx().settings.api_key):
        # Counted atomically with the check: when concurrent guesses took the last places, this one is refused.
        wait = limiter.fail(client)
        if wait:
            return _too_many(wait)
        return _login_page("That API key is not valid.", 401)
    limiter.clear(client)
    target = safe_next(request.form.get("next"))
    sessions.start(SESSION_LIFETIME.total_seconds())
    return redirect(target)


@bp.get("/logout")
def logout_confirm() -> View:
    # Logging out changes state, so it is a POST; a GET only shows the button (a link cannot log anyone out).
    return render_template("dashboard/auth/logout.html")


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    sessions.end()
    return redirect(url_for("dashboard.login") if auth_enabled() else url_for("dashboard.index"))
