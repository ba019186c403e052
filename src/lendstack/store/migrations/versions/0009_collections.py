"""Collections: strategies, cases, contact log, promises to pay, collector queues (issue 7 §2).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(*names: str) -> list[sa.Column[str]]:
    return [sa.Column(name, sa.Text(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "collection_cases",
        *_text("case_id", "loan_id", "status"),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        *_text("bucket", "stage", "risk_band"),
        sa.Column("roll_ppm", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False)
          for name in ("amount_overdue_minor", "exposure_minor", "priority_minor")),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("broken_promises", sa.Integer(), nullable=False),
        sa.Column("collector", sa.Text(), nullable=False),
        sa.Column("assigned_at", TIMESTAMP_UTC, nullable=True),
        sa.Column("last_stage", sa.Text(), nullable=False),
        sa.Column("last_step_on", sa.Date(), nullable=True),
        *_text("next_action", "strategy"),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_collection_cases"),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_collection_cases_loan_id_loans"),
    )
    op.create_index("ix_collection_cases_status_priority_minor", "collection_cases", ["status", "priority_minor"])
    op.create_index("ix_collection_cases_collector_status", "collection_cases", ["collector", "status"])
    op.create_index("ix_collection_cases_loan_id", "collection_cases", ["loan_id"])
    op.create_table(
        "collection_messages",
        *_text("message_id", "loan_id", "case_id"),
        sa.Column("as_of", sa.Date(), nullable=False),
        *_text("step_id", "action", "channel", "language", "template"),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("sent_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_collection_messages"),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_collection_messages_loan_id_loans"),
    )
    op.create_index("ix_collection_messages_loan_id_as_of", "collection_messages", ["loan_id", "as_of"])
    op.create_table(
        "collection_contacts",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        *_text("case_id", "loan_id", "outcome", "note", "by"),
        sa.Column("contacted_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("recorded_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collection_contacts"),
        sa.ForeignKeyConstraint(["case_id"], ["collection_cases.case_id"],
                                name="fk_collection_contacts_case_id_collection_cases"),
    )
    op.create_index("ix_collection_contacts_case_id", "collection_contacts", ["case_id"])
    op.create_table(
        "collection_promises",
        *_text("promise_id", "case_id", "loan_id"),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Date(), nullable=False) for name in ("made_on", "promised_for", "follow_up_on")),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=True),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("promise_id", name="pk_collection_promises"),
        sa.ForeignKeyConstraint(["case_id"], ["collection_cases.case_id"],
                                name="fk_collection_promises_case_id_collection_cases"),
    )
    op.create_index("ix_collection_promises_case_id", "collection_promises", ["case_id"])
    op.create_index("ix_collection_promises_status", "collection_promises", ["status"])
    op.create_table(
        "collection_history",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        *_text("kind", "by"),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collection_history"),
        sa.ForeignKeyConstraint(["case_id"], ["collection_cases.case_id"],
                                name="fk_collection_history_case_id_collection_cases"),
    )
    op.create_index("ix_collection_history_case_id", "collection_history", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_collection_history_case_id", table_name="collection_history")
    op.drop_table("collection_history")
    op.drop_index("ix_collection_promises_status", table_name="collection_promises")
    op.drop_index("ix_collection_promises_case_id", table_name="collection_promises")
    op.drop_table("collection_promises")
    op.drop_index("ix_collection_contacts_case_id", table_name="collection_contacts")
    op.drop_table("collection_contacts")
    op.drop_index("ix_collection_messages_loan_id_as_of", table_name="collection_messages")
    op.drop_table("collection_messages")
    op.drop_index("ix_collection_cases_loan_id", table_name="collection_cases")
    op.drop_index("ix_collection_cases_collector_status", table_name="collection_cases")
    op.drop_index("ix_collection_cases_status_priority_minor", table_name="collection_cases")
    op.drop_table("collection_cases")
