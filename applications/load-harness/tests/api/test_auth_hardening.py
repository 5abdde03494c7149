"""Guessing the API key is throttled (findings 5 and 13).

Every way of presenting the key (X-API-Key, Authorization: Bearer, the Flagger webhook's metadata.token, the
dashboard's login form) spends one budget of failures per client address, kept in the store. Over it: a 429
problem with Retry-After, for the right key too, until the window has room again. The check-and-record is atomic,
so concurrent guesses against a real two-worker server get exactly the limit's worth of 401s."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from lh_support import RunningServer, make_app, start_server
from load_harness import limits as L
from load_harness.security import throttle
from load_harness.security.throttle import AuthThrottle

KEY = "s3cret-key"
LIMIT = L.AUTH_FAILURES_PER_WINDOW
WINDOW = L.AUTH_FAILURE_WINDOW_S
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def secured(app_factory: Callable[..., Flask], clock: Clock) -> Flask:
    app = app_factory(api_key=KEY)
    throttle.install(app, AuthThrottle(clock=clock))
    return app


def _version(client: FlaskClient, key: str | None = None, **headers: str) -> Any:
    if key is not None:
        headers["X-API-Key"] = key
    return client.get("/version", headers=headers)


def _use_up_the_budget(client: FlaskClient) -> None:
    for attempt in range(LIMIT):
        assert _version(client, f"guess-{attempt}").status_code == 401


def _login(client: FlaskClient, key: str) -> Any:
    page = client.get("/ui/login").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match
    return client.post("/ui/login", data={"api_key": key, "csrf_token": match.group(1), "next": "/ui/"})


def _flagger(client: FlaskClient, token: str) -> Any:
    body = {"name": "podinfo", "namespace": "test", "metadata": {"token": token, "url": "http://127.0.0.1:1/"}}
    return client.post("/flagger/load-test", json=body)


def _assert_throttled(response: Any, wait: int = WINDOW) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == str(wait)
    problem = response.get_json()
    assert problem["type"].endswith("/too-many-auth-failures")
    assert problem["status"] == 429
    assert problem["retry_after"] == wait


def test_wrong_api_keys_get_a_429_with_retry_after_once_over_the_limit(secured: Flask) -> None:
    client = secured.test_client()
    for _ in range(3 * LIMIT):  # presenting no key is not a guess: a browser sent to the login page is not counted
        assert _version(client).status_code == 401
        assert client.get("/ui/").status_code == 302
    _use_up_the_budget(client)
    _assert_throttled(_version(client, "one-more-guess"))


def test_the_right_key_is_refused_while_locked_out_until_the_window_passes(secured: Flask, clock: Clock) -> None:
    client = secured.test_client()
    _use_up_the_budget(client)
    _assert_throttled(_version(client, KEY))  # otherwise the limit only slows guessing down
    clock.now += WINDOW - 1
    for attempt in range(10):  # refused guesses are not counted: they do not prolong the lockout
        _assert_throttled(_version(client, f"late-guess-{attempt}"), wait=1)
    _assert_throttled(_version(client, KEY), wait=1)
    clock.now += 1
    assert _version(client, KEY).status_code == 200


def test_while_locked_out_the_right_key_looks_exactly_like_a_wrong_one(secured: Flask) -> None:
    client = secured.test_client()
    _use_up_the_budget(client)
    right, wrong = _version(client, KEY), _version(client, "wrong")
    assert (right.status_code, right.get_json(), right.headers["Retry-After"]) == (
        wrong.status_code,
        wrong.get_json(),
        wrong.headers["Retry-After"],
    )


def test_bearer_tokens_spend_the_same_budget(secured: Flask) -> None:
    client = secured.test_client()
    for attempt in range(LIMIT):
        assert _version(client, Authorization=f"Bearer guess-{attempt}").status_code == 401
    _assert_throttled(_version(client, Authorization=f"Bearer {KEY}"))
    _assert_throttled(_version(client, KEY))


def test_flagger_metadata_tokens_spend_the_same_budget(secured: Flask) -> None:
    client = secured.test_client()
    for attempt in range(LIMIT):
        refused = _flagger(client, f"guess-{attempt}")
        assert refused.status_code == 401
        assert refused.mimetype == "application/problem+json"
    _assert_throttled(_flagger(client, KEY))
    _assert_throttled(_version(client, KEY))


def test_api_key_guesses_and_login_guesses_add_up_to_one_budget(secured: Flask) -> None:
    client = secured.test_client()
    for attempt in range(LIMIT - 2):
        assert _version(client, f"guess-{attempt}").status_code == 401
    assert _login(client, "form-guess-1").status_code == 401
    assert _login(client, "form-guess-2").status_code == 401
    blocked = _login(client, KEY)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == str(WINDOW)
    assert "Too many failed logins" in blocked.get_data(as_text=True)
    _assert_throttled(_version(client, KEY))


def test_login_guesses_lock_out_the_api_key_too(secured: Flask) -> None:
    client = secured.test_client()
    for attempt in range(LIMIT):
        assert _login(client, f"form-guess-{attempt}").status_code == 401
    _assert_throttled(_version(client, KEY))


def test_the_budget_is_per_client_address(secured: Flask) -> None:
    attacker = secured.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    _use_up_the_budget(attacker)
    _assert_throttled(_version(attacker, KEY))
    neighbour = secured.test_client()
    neighbour.environ_base["REMOTE_ADDR"] = "192.0.2.8"
    assert _version(neighbour, KEY).status_code == 200


def test_an_ipv6_client_cannot_get_a_fresh_budget_by_changing_address_within_its_64(secured: Flask) -> None:
    def from_address(address: str) -> FlaskClient:
        client = secured.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    for host in range(1, LIMIT + 1):
        assert _version(from_address(f"2001:db8:1:2::{host}"), "guess").status_code == 401
    _assert_throttled(_version(from_address("2001:db8:1:2:ffff:ffff:ffff:ffff"), KEY))
    assert _version(from_address("2001:db8:1:3::1"), KEY).status_code == 200  # the next /64 is someone else


def test_the_limit_holds_across_workers(tmp_path: Path) -> None:
    """Two apps on one store stand for two gunicorn workers (or two replicas)."""
    one, other = (make_app(tmp_path, api_key=KEY).test_client() for _ in range(2))
    for attempt in range(LIMIT):
        assert _version(one if attempt % 2 else other, f"guess-{attempt}").status_code == 401
    assert _version(one, KEY).status_code == 429
    assert _version(other, KEY).status_code == 429


# --- concurrent guesses ------------------------------------------------------------------------------------

ATTACKERS = 32


def _all_at_once(attempts: list[Callable[[], int]]) -> Counter[int | str]:
    """Run the attempts in threads released together by a barrier; count the status codes (or errors)."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[int | str] = []
    lock = threading.Lock()

    def run(attempt: Callable[[], int]) -> None:
        try:
            barrier.wait(30)
            outcome: int | str = attempt()
        except Exception as exc:  # a failed thread must show up in the count, not vanish
            outcome = repr(exc)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return Counter(outcomes)


class LockstepClock:
    """A clock that every thread reads together: each reading waits until all `parties` threads reach it. The
    throttle reads the clock once before it checks and once before it records, so every request has checked before
    any records: the widest possible race, made certain without sleeping. Only an atomic check-and-record still
    counts exactly."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)

    def __call__(self) -> float:
        self.barrier.wait(30)
        return 1_700_000_000.0


def test_concurrent_wrong_logins_in_lockstep_get_exactly_the_limit_of_401s(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(api_key=KEY)
    throttle.install(app, AuthThrottle(clock=LockstepClock(ATTACKERS)))

    def prepared_login() -> Callable[[], int]:
        client = app.test_client()  # one browser each: its own cookie and CSRF token
        match = TOKEN.search(client.get("/ui/login").get_data(as_text=True))
        assert match
        form = {"api_key": "wrong", "csrf_token": match.group(1), "next": "/ui/"}
        return lambda: client.post("/ui/login", data=form).status_code

    assert _all_at_once([prepared_login() for _ in range(ATTACKERS)]) == {401: LIMIT, 429: ATTACKERS - LIMIT}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real `load-harness serve` with two gunicorn workers: the guesses race across processes, not just threads.
    Behind one trusted proxy hop, X-Forwarded-For names the client, so each test attacks from its own address."""
    env = {"API_KEY": KEY, "TRUSTED_PROXY_HOPS": "1", "WEB_THREADS": "16"}
    server = start_server(tmp_path_factory.mktemp("served"), workers=2, extra_env=env)
    yield server
    server.stop()


@pytest.mark.slow
def test_concurrent_wrong_logins_on_a_served_app_get_exactly_the_limit_of_401s(served: RunningServer) -> None:
    address = {"X-Forwarded-For": "198.51.100.13"}
    browsers: list[requests.Session] = []

    def prepared_login() -> Callable[[], int]:
        # Each attacker is its own browser with its own session cookie and CSRF token, fetched beforehand, so the
        # barrier releases nothing but the POSTs.
        browser = requests.Session()
        browsers.append(browser)
        match = TOKEN.search(browser.get(served.url + "/ui/login", headers=address, timeout=10).text)
        assert match
        form = {"api_key": "wrong", "csrf_token": match.group(1), "next": "/ui/"}

        def post() -> int:
            response = browser.post(
                served.url + "/ui/login", data=form, headers=address, allow_redirects=False, timeout=30
            )
            return response.status_code

        return post

    try:
        outcomes = _all_at_once([prepared_login() for _ in range(ATTACKERS)])
    finally:
        for browser in browsers:
            browser.close()
    assert outcomes == {401: LIMIT, 429: ATTACKERS - LIMIT}
    # The same budget guards the API: the right key from that address waits too.
    blocked = requests.get(served.url + "/version", headers={**address, "X-API-Key": KEY}, timeout=10)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= WINDOW


@pytest.mark.slow
def test_concurrent_wrong_api_keys_on_a_served_app_get_exactly_the_limit_of_401s(served: RunningServer) -> None:
    address = {"X-Forwarded-For": "198.51.100.5"}

    def guess(number: int) -> Callable[[], int]:
        headers = {**address, "X-API-Key": f"guess-{number}"}
        return lambda: requests.get(served.url + "/version", headers=headers, timeout=30).status_code

    assert _all_at_once([guess(number) for number in range(ATTACKERS)]) == {401: LIMIT, 429: ATTACKERS - LIMIT}
    blocked = requests.get(served.url + "/version", headers={**address, "X-API-Key": KEY}, timeout=10)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= WINDOW
    # Another address is unaffected: the budget is per client, not global.
    other = {"X-Forwarded-For": "198.51.100.6", "X-API-Key": KEY}
    assert requests.get(served.url + "/version", headers=other, timeout=10).status_code == 200
