"""Origination: applicants, applications, data-source snapshots, blacklists.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
# A 64-bit surrogate key on PostgreSQL; INTEGER PRIMARY KEY (the rowid alias) on SQLite.
SURROGATE_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Frozen copy of the identifier columns at this revision (a migration never follows later edits).
IDENTIFIER_COLUMNS = ("phone_hash", "device_id", "bank_account_hash", "address_hash")


def _applicants_and_applications() -> None:
    op.create_table(
        "applicants",
        sa.Column("applicant_id", sa.Text(), nullable=False),
        sa.Column("applicant_type", sa.Text(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("applicant_id", name="pk_applicants"),
    )
    op.create_table(
        "applications",
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("applicant_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("requested_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("declared_monthly_revenue_minor", sa.BigInteger(), nullable=True),
        sa.Column("requested_term_months", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Text(), server_default="", nullable=False),
        sa.Column("partner_id", sa.Text(), server_default="", nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in IDENTIFIER_COLUMNS),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["applicants.applicant_id"], name="fk_applications_applicant_id_applicants"
        ),
        sa.PrimaryKeyConstraint("application_id", name="pk_applications"),
    )
    op.create_index("ix_applications_applicant_id_applied_on", "applications", ["applicant_id", "applied_on"])
    for name in IDENTIFIER_COLUMNS:
        op.create_index(f"ix_applications_{name}_applied_on", "applications", [name, "applied_on"])
    op.create_index("ix_applications_status", "applications", ["status"])


def _history_and_snapshots() -> None:
    op.create_table(
        "application_status_history",
        sa.Column("id", SURROGATE_KEY, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("changed_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.application_id"],
            name="fk_application_status_history_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_application_status_history"),
    )
    op.create_index("ix_application_status_history_application_id", "application_status_history", ["application_id"])
    op.create_table(
        "application_snapshots",
        sa.Column("id", SURROGATE_KEY, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("fetched_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.application_id"],
            name="fk_application_snapshots_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_application_snapshots"),
    )
    op.create_index("ix_application_snapshots_application_id", "application_snapshots", ["application_id"])


def _blacklist() -> None:
    op.create_table(
        "blacklist_entries",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("imported_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name="pk_blacklist_entries"),
    )


def upgrade() -> None:
    _applicants_and_applications()
    _history_and_snapshots()
    _blacklist()


def downgrade() -> None:
    op.drop_table("blacklist_entries")
    op.drop_table("application_snapshots")
    op.drop_table("application_status_history")
    for name in ("status", *(f"{n}_applied_on" for n in IDENTIFIER_COLUMNS), "applicant_id_applied_on"):
        op.drop_index(f"ix_applications_{name}", table_name="applications")
    op.drop_table("applications")
    op.drop_table("applicants")
