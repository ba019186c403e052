"""Ledger (journal entries, postings, running balances), outbox and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision: a migration never follows later model edits.
SURROGATE_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_ledger()
    _create_outbox()
    _create_idempotency_keys()


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_outbox_aggregate_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("ledger_balances")
    op.drop_index("ix_postings_account_code_currency", table_name="postings")
    op.drop_index("ix_postings_loan_id", table_name="postings")
    op.drop_table("postings")
    op.drop_index("ix_journal_entries_loan_id", table_name="journal_entries")
    op.drop_table("journal_entries")


def _create_ledger() -> None:
    op.create_table(
        "journal_entries",
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("booked_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("loan_id", sa.Text(), server_default="", nullable=False),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.Column("reverses_entry_id", sa.Text(), server_default="", nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_journal_entries"),
    )
    op.create_index("ix_journal_entries_loan_id", "journal_entries", ["loan_id"])
    op.create_table(
        "postings",
        sa.Column("id", SURROGATE_KEY, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("account_code", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("funder_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.entry_id"], name="fk_postings_entry_id_journal_entries"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.UniqueConstraint("entry_id", "seq", name="uq_postings_entry_id_seq"),
    )
    op.create_index("ix_postings_loan_id", "postings", ["loan_id"])
    op.create_index("ix_postings_account_code_currency", "postings", ["account_code", "currency"])
    op.create_table(
        "ledger_balances",
        sa.Column("account_code", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("funder_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        # loan_id first: one loan's balances are a key range, no extra index to maintain.
        sa.PrimaryKeyConstraint(
            "loan_id", "account_code", "currency", "funder_id", name="pk_ledger_balances"
        ),
    )


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("occurred_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("aggregate_type", sa.Text(), nullable=False),
        sa.Column("aggregate_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("published_at", TIMESTAMP_UTC, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_outbox"),
        sa.UniqueConstraint("seq", name="uq_outbox_seq"),
    )
    op.create_index("ix_outbox_aggregate_id", "outbox", ["aggregate_id"])


def _create_idempotency_keys() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
