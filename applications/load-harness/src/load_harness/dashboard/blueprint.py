"""The dashboard blueprint, in its own module so that every feature module can attach routes to it."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface

bp = Blueprint("dashboard", __name__, url_prefix="/ui")

# The original kept a dashboard session for 8 hours; so do we.
SESSION_LIFETIME = timedelta(hours=8)


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS (directly, or through a trusted
    proxy that ProxyFix honours), so one deployment works on plain-HTTP localhost and behind TLS alike."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure


@bp.record_once
def _configure_app(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)  # record_once hands the sansio App type; this blueprint only runs on Flask
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    app.session_interface = TlsAwareSessionInterface()
