"""The store behind the auth-failure budget and the dashboard sessions, on SQLite and on a real PostgreSQL.

The check-and-record must be atomic in the store itself: on PostgreSQL, READ COMMITTED lets concurrent
"count, then insert" transactions all see the same count, so only the per-client row lock keeps the limit."""

from __future__ import annotations

import threading
from collections import Counter

import sqlalchemy as sa
from load_harness.security.throttle import AuthThrottle
from load_harness.store import auth_failures, sessions
from load_harness.store.tables import auth_failures as auth_failures_table
from sqlalchemy.engine import Engine

NOW = 1_700_000_000.0
GUESSERS = 32
LIMIT = 5


class LockstepClock:
    """Every thread reads the clock together (each reading waits for all of them), so all 32 transactions start
    at once: the race an atomic check-and-record must win, without sleeping."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)

    def __call__(self) -> float:
        self.barrier.wait(30)
        return NOW


def test_concurrent_failures_are_counted_one_at_a_time(engine: Engine) -> None:
    limiter = AuthThrottle(limit=LIMIT, window_s=60, clock=LockstepClock(GUESSERS), engine=lambda: engine)
    waits: list[int | str] = []
    lock = threading.Lock()

    def guess() -> None:
        try:
            wait: int | str = limiter.fail("203.0.113.9")
        except Exception as exc:  # a failed thread must show up in the count, not vanish
            wait = repr(exc)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=guess) for _ in range(GUESSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(waits) == {0: LIMIT, 60: GUESSERS - LIMIT}  # 0: counted (a 401); 60: refused (a 429)
    assert auth_failures.recent(engine, "203.0.113.9", NOW - 60) == [NOW] * LIMIT


def test_refused_attempts_are_not_counted_and_the_window_slides(engine: Engine) -> None:
    for second in range(LIMIT):
        before = auth_failures.record_unless_limited(engine, "a", NOW + second, since=NOW + second - 60, limit=LIMIT)
        assert len(before) == second  # under the limit: recorded
        assert len(auth_failures.recent(engine, "a", NOW + second - 60)) == second + 1
    over = auth_failures.record_unless_limited(engine, "a", NOW + 10, since=NOW - 50, limit=LIMIT)
    assert over == [NOW + s for s in range(LIMIT)]  # over the limit: reported, not recorded
    assert auth_failures.recent(engine, "a", NOW - 50) == over
    # Once the first failure has left the window there is room for exactly one more.
    assert len(auth_failures.record_unless_limited(engine, "a", NOW + 60, since=NOW, limit=LIMIT)) == LIMIT - 1
    assert auth_failures.recent(engine, "a", NOW) == [NOW + s for s in range(1, LIMIT)] + [NOW + 60]


def test_idle_clients_are_forgotten_and_clear_forgets_one(engine: Engine) -> None:
    auth_failures.record_unless_limited(engine, "idle", NOW, since=NOW - 60, limit=LIMIT)
    auth_failures.record_unless_limited(engine, "busy", NOW + 61, since=NOW + 1, limit=LIMIT)
    with engine.connect() as conn:
        clients = set(conn.execute(sa.select(auth_failures_table.c.client)).scalars())
    assert clients == {"busy"}  # the table holds only addresses that failed within the window
    auth_failures.clear(engine, "busy")
    assert auth_failures.recent(engine, "busy", 0) == []


def test_session_rows(engine: Engine) -> None:
    live = sessions.SessionRow("a" * 64, "f" * 32, created_at=NOW, expires_at=NOW + 3600)
    sessions.create(engine, live, forget_before=NOW)
    assert sessions.get(engine, live.id) == live
    later = sessions.SessionRow("b" * 64, "f" * 32, created_at=NOW + 7200, expires_at=NOW + 10_800)
    sessions.create(engine, later, forget_before=NOW + 7200)  # creating one drops the expired ones
    assert sessions.get(engine, live.id) is None
    assert sessions.count(engine) == 1
    sessions.delete(engine, later.id)
    assert sessions.get(engine, later.id) is None
