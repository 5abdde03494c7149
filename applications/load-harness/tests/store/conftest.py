"""Store fixtures: a migrated SQLite database, and PostgreSQL when a server can be started."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from load_harness.server.launch import free_port
from load_harness.store.engine import make_engine, ping
from load_harness.store.migrate import upgrade
from sqlalchemy.engine import Engine

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 and a free port, owned by this test session."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    workdir = Path(tempfile.mkdtemp(prefix="lh-pg-"))
    data = workdir / "data"
    port = free_port()
    runas: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root; use the postgres account the Debian package creates.
        shutil.chown(workdir, "postgres")
        runas = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*runas, initdb, "-D", str(data), "-A", "trust", "-U", "lh"], check=True, capture_output=True)
    subprocess.run(
        [
            *runas,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(workdir / "log"),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {workdir}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        url = f"postgresql://lh@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ping(make_engine(url)):
                break
            time.sleep(0.1)
        yield url
    finally:
        subprocess.run([*runas, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        # A fresh database per test keeps tests independent.
        name = f"t{abs(hash(tmp_path)) % 10**12}"
        admin = make_engine(base)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + f"/{name}"
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
