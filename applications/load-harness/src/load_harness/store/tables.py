"""Table definitions. Times are UTC epoch seconds (floats): portable between SQLite and PostgreSQL, and easy to
inject in tests. Alembic migrations under migrations/versions create exactly these tables."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

JOB_STATUSES = ("running", "completed", "stopped", "failed", "lost")
ACTIVE_STATUS = "running"

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "cpu" | "memory"
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("pod", sa.String(253), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # The supervisor instance that started the processes; NULL until one claims the row.
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    # CPU cores this job may burn (cores × utilisation, capped by the quota): what admission control adds up.
    sa.Column("cpu_cores", sa.Float, nullable=False, default=0.0),
    sa.Column("memory_bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("deadline_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("cpu_seconds", sa.Float, nullable=True),
    sa.Column("peak_rss_bytes", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_jobs_pod_status", "pod", "status"),
    sa.Index("ix_jobs_kind_created", "kind", "created_at"),
)

pods = sa.Table(
    "pods",
    metadata,
    sa.Column("name", sa.String(253), primary_key=True),
    sa.Column("supervisor_id", sa.String(64), nullable=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("chaos_fail_rate", sa.Float, nullable=True),
    sa.Column("chaos_latency_ms", sa.Integer, nullable=True),
)

# runs.status and runs.source hold runs.model's StrEnum values; no CHECK constraint, so adding one needs no migration.

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # a RunOrigin: api | dashboard | cli | flagger
    # The pod whose supervisor launches the shards; NULL when they run elsewhere (CLI, an Indexed Job).
    sa.Column("pod", sa.String(253), nullable=True),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("target", sa.String(2048), nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),  # driver PlanRecord of the whole run
    sa.Column("options", sa.JSON, nullable=False),  # thresholds, labels, work per request
    sa.Column("shards", sa.Integer, nullable=False),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("summary", sa.JSON, nullable=True),  # the merged summary, frozen when the run ends
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_runs_created", "created_at"),
    sa.Index("ix_runs_status", "status"),
)

run_shards = sa.Table(
    "run_shards",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("shard_index", sa.Integer, primary_key=True),
    sa.Column("host", sa.String(253), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("finished", sa.Boolean, nullable=False, default=False),
    sa.Column("state", sa.JSON, nullable=True),  # the shard's cumulative driver state (histograms encoded)
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Failed authentication attempts (wrong API keys, Bearer tokens, Flagger tokens and dashboard logins): one row
# per client address, shared by every worker and replica, so the limit holds for the whole deployment. `failures`
# holds the times of the most recent failures (at most the limit's worth): the sliding window needs no more. The
# row is also what a check-and-record locks (security/throttle.py), so concurrent guesses are counted one by one.
auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("failures", sa.JSON, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Index("ix_auth_failures_last_at", "last_at"),
)

# Dashboard sessions. The cookie carries only a random id; this row decides whether it is still good, so logout
# and a new API key end a session everywhere at once. `id` is the SHA-256 of the cookie's id (a leaked table
# yields no usable cookie); `key_fingerprint` is an HMAC of the API key the session was issued under; `expires_at`
# is absolute and never moves.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("key_fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_dashboard_sessions_expires_at", "expires_at"),
)
