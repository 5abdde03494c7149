"""Optional API key. When API_KEY is set, every path except probes, metrics, the API docs and static files
needs `X-API-Key: KEY`, `Authorization: Bearer KEY`, or a dashboard session (security/sessions.py, checked
against the store on every request). Keys are compared in constant time, and wrong keys count against the
client's failed-authentication budget (security/throttle.py): over it, a 429 with Retry-After."""

from __future__ import annotations

from flask import Flask, Request, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.problems import ProblemError
from load_harness.security import sessions, throttle
from load_harness.security.csrf import SAFE_METHODS, token_valid
from load_harness.security.public import is_public  # what needs no key: one list, shared with chaos
from load_harness.security.throttle import key_matches as key_matches  # re-exported: older imports keep working

KEY_DETAIL = "this endpoint needs an API key: send X-API-Key or Authorization: Bearer"


def presented_key(req: Request) -> str | None:
    header = req.headers.get("X-API-Key")
    if header:
        return header
    auth = req.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def install(app: Flask, api_key: str) -> None:
    throttle.install(app)
    sessions.install(app)
    # The session's end is its row's absolute expires_at. The cookie is written at login (and when its content
    # changes), not re-sent with a fresh expiry on every request, so it does not outlive the row either.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False

    @app.before_request
    def _require_key() -> WerkzeugResponse | None:
        if not api_key or is_public(request.path):
            return None
        candidate = presented_key(request)
        if candidate is not None:
            # A presented key is judged on its own, even with a session cookie alongside: a wrong key is a guess.
            throttle.require_key(candidate, api_key, KEY_DETAIL)
            return None
        if sessions.signed_in():
            # A browser session: the dashboard checks its own forms; API calls riding on the cookie need the
            # session's CSRF token too, or a page on another site could make the browser call the API.
            if request.method in SAFE_METHODS or request.path.startswith("/ui") or token_valid():
                return None
            raise ProblemError(403, "Forbidden", "send the session's X-CSRF-Token with this request", kind="csrf")
        if request.path.startswith("/ui") and "dashboard.login" in app.view_functions:
            return redirect(url_for("dashboard.login", next=request.path))
        raise throttle.unauthorized(KEY_DETAIL)
