"""Dashboard sessions, checked on the server on every request.

The signed cookie (Flask's session) carries only a random 256-bit session id (and the CSRF token, which is not a
credential). Whether that id still counts is decided by its row in the store (store/sessions.py), so:
- logout deletes the row: a copy of the cookie stops working at once, on every worker and replica (nothing is
  cached, so there is no window in which another worker still accepts it);
- each row holds a fingerprint of the API key it was issued under, HMAC(SECRET_KEY, API_KEY): a new API key ends
  every session even when SECRET_KEY stays the same;
- each row has an absolute `expires_at`, set at login and never moved: using a session does not extend it.

The store keeps the SHA-256 of the id, not the id, so reading the table gives nobody a usable cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from flask import Flask, current_app, g, has_app_context, session
from sqlalchemy.engine import Engine

from load_harness.context import ctx
from load_harness.security.csrf import new_token
from load_harness.store import sessions as store

SESSION_ID = "sid"  # the one auth-related thing in the cookie
EXTENSION = "load_harness_sessions"
_CHECKED = "_lh_signed_in"  # on `g`: one store read per request, however many times it is asked


def key_fingerprint(secret_key: str, api_key: str) -> str:
    """128 bits of HMAC-SHA256: identifies the key without storing anything that helps to guess it."""
    digest = hmac.new(secret_key.encode("utf-8"), b"dashboard-session\x00" + api_key.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]


def _row_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class Sessions:
    """Issue, check and revoke sessions, with an injectable clock and engine (tests move time instead of waiting)."""

    def __init__(
        self, clock: Callable[[], float] = time.time, engine: Callable[[], Engine] = lambda: ctx().engine
    ) -> None:
        self.clock = clock
        self.engine = engine

    def issue(self, fingerprint: str, lifetime_s: float) -> str:
        """A new session id, valid for `lifetime_s` from now and for the key with this fingerprint."""
        now = self.clock()
        session_id = secrets.token_urlsafe(32)  # 256 bits from the OS's CSPRNG
        row = store.SessionRow(_row_id(session_id), fingerprint, created_at=now, expires_at=now + lifetime_s)
        store.create(self.engine(), row, forget_before=now)
        return session_id

    def valid(self, session_id: str, fingerprint: str) -> bool:
        row = store.get(self.engine(), _row_id(session_id))
        if row is None:
            return False
        if row.expires_at <= self.clock():
            store.delete(self.engine(), row.id)  # it can never become valid again
            return False
        # Issued under another API key: refused, but not deleted. During a rolling key change a pod that still has
        # the old key would otherwise delete the sessions the new pods issue; a stale row simply expires.
        return hmac.compare_digest(row.key_fingerprint, fingerprint)

    def revoke(self, session_id: str) -> None:
        store.delete(self.engine(), _row_id(session_id))


_DEFAULT = Sessions()


def install(app: Flask, sessions: Sessions | None = None) -> None:
    """Kept on the app, so a test can swap in one with its own clock."""
    app.extensions[EXTENSION] = sessions or _DEFAULT


def current() -> Sessions:
    if has_app_context():
        sessions = current_app.extensions.get(EXTENSION)
        if isinstance(sessions, Sessions):
            return sessions
    return _DEFAULT


def _fingerprint() -> str:
    settings = ctx().settings
    return key_fingerprint(settings.secret_key, settings.api_key)


def start(lifetime_s: float) -> None:
    """Log in: a new session id in a cleared cookie, with a new CSRF token. Nothing from before the login survives,
    so an id planted in the browser beforehand (session fixation) is worthless. A session this browser already had
    is revoked: one login, one live session."""
    previous = session.get(SESSION_ID)
    if isinstance(previous, str) and previous:
        current().revoke(previous)
    session.clear()
    session.permanent = True
    session[SESSION_ID] = current().issue(_fingerprint(), lifetime_s)
    new_token()
    g.pop(_CHECKED, None)


def end() -> None:
    """Log out: delete the row first (that is what ends the session everywhere), then clear the cookie."""
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str) and session_id:
        current().revoke(session_id)
    session.clear()
    new_token()
    g.pop(_CHECKED, None)


def signed_in() -> bool:
    """True when this request's cookie names a live session for the current API key."""
    if _CHECKED in g:
        return bool(g.get(_CHECKED))
    session_id = session.get(SESSION_ID)
    ok = isinstance(session_id, str) and bool(session_id) and current().valid(session_id, _fingerprint())
    if not ok and SESSION_ID in session:
        session.pop(SESSION_ID)  # the browser may as well forget it
    setattr(g, _CHECKED, ok)
    return ok
