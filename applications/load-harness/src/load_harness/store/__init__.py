"""The shared store: SQLAlchemy Core tables, Alembic migrations and small repositories (jobs, pods)."""

from load_harness.store.engine import get_engine, make_engine
from load_harness.store.migrate import upgrade

__all__ = ["get_engine", "make_engine", "upgrade"]
