"""Replicas that start together migrate one at a time (migrate.lock_for_migration), on both backends.

Three local pods on one SQLite file once failed here: a second migrator read revision 0002, the first then ran 0003
and 0004 between two of the second's per-migration transactions, and the second's 0003 found no row to update."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from load_harness.server.launch import BIN
from load_harness.store.engine import make_engine
from load_harness.store.migrate import HEAD_REVISION, MIGRATION_LOCK_KEY, current, lock_for_migration, upgrade
from sqlalchemy import event

DEADLINE_S = 120


def test_sqlite_upgrade_is_one_write_transaction_from_reading_the_revision_to_the_last_update(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE holds SQLite's write lock, so one transaction around the whole upgrade is the lock."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine, "0002")  # a database one release behind, as in the failure above
    trace: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: trace.append(sql.strip().split()[0]))
    event.listen(engine, "commit", lambda _c: trace.append("COMMIT"))
    event.listen(engine, "rollback", lambda _c: trace.append("ROLLBACK"))
    upgrade(engine)
    during = list(trace)  # what current() runs below is not part of the upgrade
    assert current(engine) == HEAD_REVISION
    assert during[0] == "BEGIN", during
    shown = " ".join(during)
    assert during.count("BEGIN") == 1, shown
    assert during.count("COMMIT") == 1, shown
    assert during[-1] == "COMMIT", shown
    assert "ROLLBACK" not in during, shown
    assert during.index("SELECT") < during.index("UPDATE"), shown  # the revision is read inside the lock


def _fresh_database(base_url: str, name: str) -> str:
    admin = make_engine(base_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def _waiting_for_the_lock(conn: sa.Connection) -> int:
    # A bigint advisory key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1"
        " AND classid::bigint = :high AND objid::bigint = :low"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    key = {"high": MIGRATION_LOCK_KEY >> 32, "low": MIGRATION_LOCK_KEY & 0xFFFFFFFF}
    return int(conn.execute(query, key).scalar_one())


def test_postgresql_replicas_queue_on_the_lock_then_the_second_finds_nothing_to_do(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two `load-harness db upgrade` processes start while the lock is held elsewhere. Both must wait before reading
    the revision (if they read it first, both would find an empty database, and the second would fail creating
    tables that the first made); once it is released, both finish and the database is at head."""
    url = _fresh_database(postgres_url, "concurrent_migrations")
    engine = make_engine(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOAD_HARNESS_", "API_KEY"))}
    env.update(DATABASE_URL=url)
    holder = engine.connect()
    transaction = holder.begin()
    lock_for_migration(holder)
    replicas: list[subprocess.Popen[str]] = []
    try:
        for index in range(2):
            with (tmp_path / f"replica-{index}.log").open("w") as log:
                command = [str(BIN), "db", "upgrade"]
                replicas.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
        with engine.connect() as observer:
            deadline = time.monotonic() + DEADLINE_S
            while _waiting_for_the_lock(observer) < 2:
                exited = [r.returncode for r in replicas if r.poll() is not None]
                assert not exited, f"a replica did not wait for the lock: exit {exited}, {_logs(tmp_path)}"
                assert time.monotonic() < deadline, f"replicas never queued on the migration lock: {_logs(tmp_path)}"
                time.sleep(0.05)
            observer.rollback()
        assert current(engine) is None, "a replica migrated while the lock was held"
    finally:
        transaction.rollback()
        holder.close()
    for replica in replicas:
        assert replica.wait(DEADLINE_S) == 0, _logs(tmp_path)
    assert current(engine) == HEAD_REVISION
    engine.dispose()


def _logs(tmp_path: Path) -> str:
    return "\n".join(f"{p.name}: {p.read_text(errors='replace')[-2000:]}" for p in sorted(tmp_path.glob("*.log")))


@pytest.mark.parametrize("revision", ["0002", HEAD_REVISION])
def test_the_lock_does_not_change_what_a_lone_upgrade_does(tmp_path: Path, revision: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine, revision)
    assert current(engine) == revision
    upgrade(engine)
    assert current(engine) == HEAD_REVISION
