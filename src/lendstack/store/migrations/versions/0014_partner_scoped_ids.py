"""Applicants and applications in each partner's own namespace; loan ids stored, not derived.

- applicants: partner_id (who brought the applicant, '' = staff) and reference (the id that partner
  names it by). An existing applicant belongs to the partner of its earliest application (by
  created_at, then id) and keeps its id as its reference.
- applications: reference (the id the partner names it by; an existing application keeps its id)
  and loan_id (the loan its accepted offer booked: "L-" + the application id where such a loan
  exists, as the old naming rule made it; '' otherwise).
- unique (partner_id, reference) on both: how a partner's calls find their own records. Created
  after the backfill, which makes them unique (each reference is a primary key value today).

The columns are added in place (literal server defaults) and the backfill is plain UPDATEs, so
SQLite does not recreate `applications` (whose foreign keys from the status history and snapshots
made a recreation fail in 0013's first version).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOAN_PREFIX = "L-"  # the naming rule of loans booked from an offer before this revision


def upgrade() -> None:
    with op.batch_alter_table("applicants") as batch:
        batch.add_column(sa.Column("partner_id", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("reference", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("reference", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("loan_id", sa.Text(), nullable=False, server_default=""))
    op.execute("UPDATE applications SET reference = application_id")
    op.execute(sa.text(
        "UPDATE applications SET loan_id = :prefix || application_id WHERE EXISTS "
        "(SELECT 1 FROM loans WHERE loans.loan_id = :prefix || applications.application_id)"
    ).bindparams(prefix=LOAN_PREFIX))
    op.execute(
        "UPDATE applicants SET reference = applicant_id, partner_id = COALESCE(("
        "SELECT a.partner_id FROM applications a WHERE a.applicant_id = applicants.applicant_id "
        "ORDER BY a.created_at, a.application_id LIMIT 1), '')"
    )
    op.create_index("ix_applicants_partner_id_reference", "applicants", ["partner_id", "reference"], unique=True)
    op.create_index("ix_applications_partner_id_reference", "applications", ["partner_id", "reference"],
                    unique=True)
    op.create_index("ix_applications_loan_id", "applications", ["loan_id"])


def downgrade() -> None:
    op.drop_index("ix_applications_loan_id", table_name="applications")
    op.drop_index("ix_applications_partner_id_reference", table_name="applications")
    op.drop_index("ix_applicants_partner_id_reference", table_name="applicants")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+), not batch mode: recreating `applicants` or
    # `applications` means DROP TABLE, which their foreign keys refuse once there are rows.
    for table, column in (("applications", "loan_id"), ("applications", "reference"),
                          ("applicants", "reference"), ("applicants", "partner_id")):
        op.drop_column(table, column)
