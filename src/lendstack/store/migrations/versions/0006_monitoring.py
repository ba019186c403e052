"""Post-loan data snapshots and early-warning alerts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-01-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "post_loan_snapshots",
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("loan_id", "source", "as_of", name="pk_post_loan_snapshots"),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_post_loan_snapshots_loan_id_loans"),
    )
    op.create_table(
        "ew_alerts",
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("alert_id", "loan_id", "indicator", "severity")),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_ew_alerts"),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_ew_alerts_loan_id_loans"),
    )
    op.create_index("ix_ew_alerts_status_severity", "ew_alerts", ["status", "severity"])
    op.create_index("ix_ew_alerts_loan_id", "ew_alerts", ["loan_id"])


def downgrade() -> None:
    op.drop_index("ix_ew_alerts_loan_id", table_name="ew_alerts")
    op.drop_index("ix_ew_alerts_status_severity", table_name="ew_alerts")
    op.drop_table("ew_alerts")
    op.drop_table("post_loan_snapshots")
