"""One auth-failure budget per client (API keys and logins), and server-side dashboard sessions.

login_failures (one row per failed login) becomes auth_failures (one row per client, which the check-and-record
locks). Its rows only matter for a minute, so they are not carried over.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_login_failures_client_at", "login_failures")
    op.drop_table("login_failures")
    op.create_table(
        "auth_failures",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("failures", sa.JSON, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
    )
    op.create_index("ix_auth_failures_last_at", "auth_failures", ["last_at"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_expires_at", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_auth_failures_last_at", "auth_failures")
    op.drop_table("auth_failures")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_login_failures_client_at", "login_failures", ["client", "at"])
