"""Staff users and console sessions (issue 6 §2).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("username", "password_hash", "role",
                                                                   "display_name")),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("disabled_at", TIMESTAMP_UTC, nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_staff_users"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_staff_sessions"),
    )
    op.create_index("ix_staff_sessions_username", "staff_sessions", ["username"])
    op.create_table(
        "staff_login_failures",
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("locked_until", TIMESTAMP_UTC, nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_staff_login_failures"),
    )


def downgrade() -> None:
    op.drop_table("staff_login_failures")
    op.drop_index("ix_staff_sessions_username", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
