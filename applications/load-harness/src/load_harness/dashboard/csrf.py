"""CSRF protection for the dashboard: one random token per session, required on every state-changing request.

Forms carry it in a hidden `csrf_token` field; HTMX requests carry it in the `X-CSRF-Token` header, which
static/dashboard/app.js copies from the page's `<meta name="csrf-token">`. SameSite=Lax already keeps the cookie
off cross-site POSTs; the token also covers same-site attackers and older browsers."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from load_harness.dashboard.blueprint import bp
from load_harness.security.csrf import SAFE_METHODS, csrf_token, token_valid


@bp.before_request
def _verify_csrf() -> tuple[str, int] | WerkzeugResponse | None:
    if request.method in SAFE_METHODS or token_valid():
        return None
    message = (
        "This form's security token is missing or out of date (the session may have expired or rotated). "
        "Reload the page and try again."
    )
    if request.headers.get("HX-Request"):
        return render_template("dashboard/layout/error.html", message=message), 403
    return render_template("dashboard/layout/error_page.html", title="Forbidden", message=message), 403


@bp.context_processor
def _inject_token() -> dict[str, object]:
    # A function, not a value: a session (and its cookie) is only created for pages that render a form.
    return {"csrf_token": csrf_token}
