"""Loans and their installments, with the EOD cursor columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
# Frozen copies of the column lists at this revision (a migration never follows later edits).
COUNTERS = (
    "principal_disbursed_minor", "principal_capitalized_minor", "principal_repaid_minor",
    "principal_written_off_minor", "interest_accrued_minor", "interest_paid_minor",
    "interest_written_off_minor", "interest_capitalized_minor", "fee_charged_minor", "fee_paid_minor",
    "fee_written_off_minor", "fee_capitalized_minor", "penalty_accrued_minor", "penalty_paid_minor",
    "penalty_written_off_minor", "penalty_capitalized_minor", "suspense_minor",
)
EOD_COLUMNS = (
    "grace_days", "penalty_ppm", "penalty_on_interest", "year_days", "rounding_code",
    "cur_start_day", "cur_due_day", "cur_interest_minor", "cur_fee_minor", "base_interest_minor",
    "base_fee_minor", "oldest_open_due_day",
)


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("funder_id", sa.Text(), nullable=False),
        sa.Column("line_id", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("upfront_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("periodic_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("disbursed_on", sa.Date(), nullable=True),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in COUNTERS),
        sa.Column("accrued_through", sa.Date(), nullable=True),
        sa.Column("days_past_due", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bucket", sa.Text(), server_default="M0", nullable=False),
        sa.Column("five_tier", sa.Text(), server_default="normal", nullable=False),
        sa.Column("restructure_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in EOD_COLUMNS),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name="pk_loans"),
    )
    op.create_index("ix_loans_status_accrued_through", "loans", ["status", "accrued_through"])
    op.create_table(
        "installments",
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("capitalized", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_installments_loan_id_loans"),
        sa.PrimaryKeyConstraint("loan_id", "seq", name="pk_installments"),
    )


def downgrade() -> None:
    op.drop_table("installments")
    op.drop_index("ix_loans_status_accrued_through", table_name="loans")
    op.drop_table("loans")
