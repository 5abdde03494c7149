"""One budget of failed authentication attempts per client address, for every way of presenting the API key:
`X-API-Key`, `Authorization: Bearer`, the Flagger webhook's `metadata.token` and the dashboard's login form.

One budget, not one per door: separate budgets would add up (five guesses at the form, five at the API, five at
the webhook…). The limits are in limits.py (AUTH_FAILURES_PER_WINDOW, AUTH_FAILURE_WINDOW_S). Failures are
counted in the store, so the limit holds across every web worker and replica; the check-and-record is one atomic
step there, so concurrent guesses cannot all slip under it.

Over the limit, *every* attempt from that address is refused with a 429 until the window has room again, the
right key included, and before the key is even compared: otherwise an attacker would keep guessing at full speed
and recognise the right key as the one answer that is not a 429 (or the one that takes a different time)."""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, has_app_context, request
from sqlalchemy.engine import Engine

from load_harness import limits as L
from load_harness.context import ctx
from load_harness.problems import ProblemError
from load_harness.store import auth_failures

EXTENSION = "load_harness_auth_throttle"


def key_matches(candidate: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty candidate or an empty expected key never matches."""
    if not candidate or not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


class TooManyFailures(ProblemError):
    """429 with the wait in `Retry-After` (seconds) and in the problem's `retry_after` member."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            429,
            "Too Many Requests",
            f"too many failed authentication attempts from your address; try again in {wait} s",
            kind="too-many-auth-failures",
            retry_after=wait,
        )
        self.wait = wait

    def response(self) -> Response:
        response = super().response()
        response.headers["Retry-After"] = str(self.wait)
        return response


class AuthThrottle:
    """The failure budget, with an injectable clock and engine (tests move time instead of waiting)."""

    def __init__(
        self,
        limit: int = L.AUTH_FAILURES_PER_WINDOW,
        window_s: float = L.AUTH_FAILURE_WINDOW_S,
        clock: Callable[[], float] = time.time,
        engine: Callable[[], Engine] = lambda: ctx().engine,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.engine = engine

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may try now. Reads only."""
        now = self.clock()
        return self._wait(auth_failures.recent(self.engine(), client, now - self.window_s), now)

    def fail(self, client: str) -> int:
        """Count one failure, atomically with the check. 0: counted, answer 401. Otherwise the client was already
        over the limit (a concurrent request took the last place): nothing was counted; answer 429 with this wait."""
        now = self.clock()
        before = auth_failures.record_unless_limited(
            self.engine(), client, now, since=now - self.window_s, limit=self.limit
        )
        return self._wait(before, now)

    def clear(self, client: str) -> None:
        auth_failures.clear(self.engine(), client)

    def _wait(self, failures: list[float], now: float) -> int:
        if len(failures) < self.limit:
            return 0
        # The client may try again when the oldest of its last `limit` failures leaves the window.
        return max(1, math.ceil(failures[-self.limit] + self.window_s - now))


_DEFAULT = AuthThrottle()


def install(app: Flask, throttle: AuthThrottle | None = None) -> None:
    """Kept on the app, so a test can swap in a throttle with its own clock."""
    app.extensions[EXTENSION] = throttle or _DEFAULT


def current() -> AuthThrottle:
    if has_app_context():
        throttle = current_app.extensions.get(EXTENSION)
        if isinstance(throttle, AuthThrottle):
            return throttle
    return _DEFAULT


def client_address() -> str:
    """The key the budget is kept under: the client's IPv4 address, or its IPv6 /64.

    remote_addr is the peer, or the client named by X-Forwarded-For only when TRUSTED_PROXY_HOPS says a known proxy
    put it there (security/headers.py), so a client cannot name its own address to get a fresh budget. An IPv6 host
    is usually handed a whole /64 and can pick any address in it, so the /64 is the client."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, kind="unauthorized")


def require_key(candidate: str | None, expected: str, detail: str) -> None:
    """Return when `candidate` is the API key; otherwise raise a 401 problem (counted as a failure), or a 429 when
    this client is over the limit. A request that presents no key at all is not a guess and is not counted."""
    if not candidate:
        raise unauthorized(detail)
    throttle, client = current(), client_address()
    wait = throttle.retry_after(client)
    if wait:
        raise TooManyFailures(wait)
    if key_matches(candidate, expected):
        return
    wait = throttle.fail(client)
    if wait:
        raise TooManyFailures(wait)
    raise unauthorized(detail)
