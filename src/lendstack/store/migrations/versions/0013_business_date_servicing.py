"""The business date, non-accrual, restructure observation, recoveries and the servicing log.

- book_state: the book's business date (营业日期). Set here for an existing book: the day after the
  earliest day every live loan is closed through (what end of day would close next); with no live
  loan, the day after the latest day any loan was closed through or any entry is dated.
- loans: booked_on, due_day (the contract's day of month; from the disbursement date for loans
  already disbursed), non_accrual, unearned_minor, recovered_minor, the observation columns.
- loan_commands: the servicing log a reversal replays. Loans booked before this revision have none:
  they cannot be reversed by replay (the service says so).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("unearned_minor", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("recovered_minor", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("booked_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("due_day", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("non_accrual", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("observation_floor", sa.Text(), server_default="normal", nullable=False))
        batch.add_column(sa.Column("observation_end", sa.Date(), nullable=True))
        batch.add_column(sa.Column("observation_missed", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("obs_end_day", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "book_state",
        sa.Column("book_id", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("book_id", name="pk_book_state"),
    )
    op.create_table(
        "loan_commands",
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("command_key", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("entry_id", sa.Text(), server_default="", nullable=False),
        sa.Column("reversed_by", sa.Text(), server_default="", nullable=False),
        sa.Column("recorded_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name="fk_loan_commands_loan_id_loans"),
        sa.PrimaryKeyConstraint("loan_id", "seq", name="pk_loan_commands"),
    )
    op.create_index("ix_loan_commands_entry_id", "loan_commands", ["entry_id"])
    _backfill()


def _backfill() -> None:
    """due_day of disbursed loans, and the business date of a book that already has days closed."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT loan_id, disbursed_on FROM loans WHERE disbursed_on IS NOT NULL")).all()
    for loan_id, disbursed_on in rows:
        day = _as_date(disbursed_on).day
        conn.execute(sa.text("UPDATE loans SET due_day = :d WHERE loan_id = :id"), {"d": day, "id": loan_id})
    business = _business_date(conn)
    if business is not None:
        conn.execute(sa.text("INSERT INTO book_state (book_id, business_date, updated_at) VALUES ('book', :d, :t)"),
                     {"d": business, "t": datetime.now(UTC).replace(tzinfo=None)
                      if conn.dialect.name == "sqlite" else datetime.now(UTC)})


def _business_date(conn: sa.Connection) -> date | None:
    live = conn.execute(sa.text(
        "SELECT MIN(accrued_through) FROM loans WHERE status IN ('active', 'overdue')")).scalar()
    if live is not None:
        return _as_date(live) + timedelta(days=1)
    closed = conn.execute(sa.text("SELECT MAX(accrued_through) FROM loans")).scalar()
    dated = conn.execute(sa.text("SELECT MAX(effective_date) FROM journal_entries")).scalar()
    candidates = [_as_date(closed) + timedelta(days=1)] if closed is not None else []
    candidates += [_as_date(dated)] if dated is not None else []
    return max(candidates) if candidates else None


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    op.drop_index("ix_loan_commands_entry_id", table_name="loan_commands")
    op.drop_table("loan_commands")
    op.drop_table("book_state")
    with op.batch_alter_table("loans") as batch:
        for name in ("obs_end_day", "observation_missed", "observation_end", "observation_floor", "non_accrual",
                     "due_day", "booked_on", "recovered_minor", "unearned_minor"):
            batch.drop_column(name)
