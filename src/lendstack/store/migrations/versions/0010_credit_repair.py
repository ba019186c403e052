"""Credit repair: program applications and grants (issue 7 §7).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "repair_applications",
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("application_id", "borrower_id", "applicant_id",
                                                                   "loan_id")),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        *(sa.Column(name, sa.JSON(), nullable=False) for name in ("reasons", "evidence", "program", "history")),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_repair_applications"),
    )
    op.create_index("ix_repair_applications_borrower_id", "repair_applications", ["borrower_id"])
    op.create_table(
        "repair_grants",
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("grant_id", "application_id", "borrower_id",
                                                                   "loan_id")),
        sa.Column("installment_seq", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Date(), nullable=False) for name in ("due_date", "paid_on")),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name="pk_repair_grants"),
        sa.ForeignKeyConstraint(["application_id"], ["repair_applications.application_id"],
                                name="fk_repair_grants_application_id_repair_applications"),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_repair_grants_loan_id_loans"),
        sa.UniqueConstraint("loan_id", "installment_seq", name="uq_repair_grants_loan_id_installment_seq"),
    )
    op.create_index("ix_repair_grants_borrower_id", "repair_grants", ["borrower_id"])


def downgrade() -> None:
    op.drop_index("ix_repair_grants_borrower_id", table_name="repair_grants")
    op.drop_table("repair_grants")
    op.drop_index("ix_repair_applications_borrower_id", table_name="repair_applications")
    op.drop_table("repair_applications")
