"""Optional API key. When API_KEY is set, every path except probes, metrics, the API docs and static files
needs `X-API-Key: KEY`, `Authorization: Bearer KEY`, or a dashboard session. Keys are compared in constant time."""

from __future__ import annotations

import hmac

from flask import Flask, Request, redirect, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.api.problems import ProblemError
from load_harness.security.csrf import SAFE_METHODS, token_valid

# /flagger/load-test checks the key itself: Flagger cannot send headers, so it also accepts metadata.token.
PUBLIC_EXACT = {"/health", "/ready", "/metrics", "/openapi.json", "/apispec.json", "/ui/login", "/flagger/load-test"}
PUBLIC_PREFIXES = ("/apidocs", "/static/")
SESSION_FLAG = "authenticated"


def key_matches(candidate: str | None, expected: str) -> bool:
    if not candidate or not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


def presented_key(req: Request) -> str | None:
    header = req.headers.get("X-API-Key")
    if header:
        return header
    auth = req.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def install(app: Flask, api_key: str) -> None:
    @app.before_request
    def _require_key() -> WerkzeugResponse | None:
        if not api_key or is_public(request.path):
            return None
        if key_matches(presented_key(request), api_key):
            return None
        if session.get(SESSION_FLAG) is True:
            # A browser session: the dashboard checks its own forms; API calls riding on the cookie need the
            # session's CSRF token too, or a page on another site could make the browser call the API.
            if request.method in SAFE_METHODS or request.path.startswith("/ui") or token_valid():
                return None
            raise ProblemError(403, "Forbidden", "send the session's X-CSRF-Token with this request", kind="csrf")
        if request.path.startswith("/ui") and "dashboard.login" in app.view_functions:
            return redirect(url_for("dashboard.login", next=request.path))
        raise ProblemError(
            401,
            "Unauthorized",
            "this endpoint needs an API key: send X-API-Key or Authorization: Bearer",
            kind="unauthorized",
        )
