"""CSRF tokens: one random token per session. The dashboard requires it on every state-changing request, and the
JSON API requires it when a request is authenticated by the dashboard's session cookie rather than a key (a
script with a key is not a browser, so it needs no token)."""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

SESSION_KEY = "csrf_token"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def new_token() -> str:
    """A fresh token, after the session was cleared (login and logout rotate it)."""
    session.pop(SESSION_KEY, None)
    return csrf_token()


def token_valid() -> bool:
    expected = session.get(SESSION_KEY)
    presented = request.headers.get(HEADER) or request.form.get(FIELD)
    if not isinstance(expected, str) or not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
