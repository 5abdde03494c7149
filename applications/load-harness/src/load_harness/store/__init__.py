"""The shared store: SQLAlchemy Core tables, Alembic migrations and small repositories (jobs, pods).

Submodules are imported where needed; in particular Alembic (store.migrate) stays out of web workers."""
