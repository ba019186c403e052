"""The schema as SQLAlchemy Core tables. Migrations create it; these describe it for queries.

Money columns are BIGINT minor units, never Float or Numeric. '' (not NULL) means "no loan" or
"no funder", so the dimensions can be part of primary keys and compared with '='.
A test checks that the migrated schema equals this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# A 64-bit surrogate key on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the autoincrementing
# rowid alias (BIGINT PRIMARY KEY would not autoincrement), and it is 64-bit there anyway.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert value.tzinfo is not None, "timestamps must be timezone-aware"
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("loan_id", Text, nullable=False, server_default="", index=True),
    Column("memo", Text, nullable=False, server_default=""),
    Column("reverses_entry_id", Text, nullable=False, server_default=""),
    Column("metadata", JSON, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("entry_id", Text, ForeignKey("journal_entries.entry_id"), nullable=False),
    Column("seq", SmallInteger, nullable=False),  # position within the entry, from 0
    Column("account_code", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("funder_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # debit positive, credit negative
    UniqueConstraint("entry_id", "seq"),  # also the index that joins postings to entries
    Index(None, "loan_id"),
    Index(None, "account_code", "currency"),
)

ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account_code", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("funder_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),  # == SUM(postings.amount_minor) per key
    Column("updated_at", UtcDateTime, nullable=False),
    # loan_id leads the key so that "all balances of one loan" is a key range scan, with no
    # second index to maintain on every upsert.
    PrimaryKeyConstraint("loan_id", "account_code", "currency", "funder_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("event_id", Text, primary_key=True),
    # Publication order. PostgreSQL fills it from an identity; SQLite cannot autoincrement a
    # non-key column, so the Outbox assigns MAX(seq)+1 there (safe: SQLite writers are serialized).
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("aggregate_id", Text, nullable=False, index=True),
    Column("event_type", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("published_at", UtcDateTime, nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),  # the command, e.g. "loan.repay"
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),  # sha256 hex of the canonical JSON request
    Column("response", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


# --- loans (migration 0002) ------------------------------------------------------------------------

LOAN_COUNTERS = (
    "principal_disbursed_minor", "principal_capitalized_minor", "principal_repaid_minor",
    "principal_written_off_minor", "interest_accrued_minor", "interest_paid_minor",
    "interest_written_off_minor", "interest_capitalized_minor", "fee_charged_minor", "fee_paid_minor",
    "fee_written_off_minor", "fee_capitalized_minor", "penalty_accrued_minor", "penalty_paid_minor",
    "penalty_written_off_minor", "penalty_capitalized_minor", "suspense_minor",
    "unearned_minor", "recovered_minor",  # migration 0013
)

# The EOD cursor: derived from the installments by servicing.eod_columnar.loan_row whenever a loan
# is saved, and kept here so that end of day over a million loans reads one row per loan and no
# installment at all for the loans that neither cross a due date nor are past grace. Day numbers
# are proleptic ordinals (date.toordinal()).
LOAN_EOD_COLUMNS = (
    "grace_days", "penalty_ppm", "penalty_on_interest", "year_days", "rounding_code",
    "cur_start_day", "cur_due_day", "cur_interest_minor", "cur_fee_minor", "base_interest_minor",
    "base_fee_minor", "oldest_open_due_day",
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", Text, primary_key=True),
    Column("product_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("funder_id", Text, nullable=False),
    Column("line_id", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("term", Integer, nullable=False),
    Column("upfront_fee_minor", BigInteger, nullable=False),
    Column("periodic_fee_minor", BigInteger, nullable=False),
    Column("disbursed_on", Date, nullable=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in LOAN_COUNTERS),
    # migration 0013: the booking's business date, the contract's day of month, non-accrual, and the
    # observation of a restructured loan (obs_end_day: its end as an ordinal for the columnar EOD, 0 = none)
    Column("booked_on", Date, nullable=True),
    Column("due_day", Integer, nullable=False, server_default="0"),
    Column("non_accrual", Boolean, nullable=False, server_default=false()),
    Column("observation_floor", Text, nullable=False, server_default="normal"),
    Column("observation_end", Date, nullable=True),
    Column("observation_missed", Boolean, nullable=False, server_default=false()),
    Column("obs_end_day", BigInteger, nullable=False, server_default="0"),
    Column("accrued_through", Date, nullable=True),
    Column("days_past_due", Integer, nullable=False, server_default="0"),
    Column("bucket", Text, nullable=False, server_default="M0"),
    Column("five_tier", Text, nullable=False, server_default="normal"),
    Column("restructure_count", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in LOAN_EOD_COLUMNS),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "accrued_through"),
)

installments = Table(
    "installments",
    metadata,
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("principal_paid_minor", BigInteger, nullable=False),
    Column("interest_paid_minor", BigInteger, nullable=False),
    Column("fee_paid_minor", BigInteger, nullable=False),
    Column("capitalized", Boolean, nullable=False),
    PrimaryKeyConstraint("loan_id", "seq"),
)

# The book's business date (营业日期), one row (book_id 'book'): the day commands are dated on.
# End of day is the only thing that moves it (migration 0013).
book_state = Table(
    "book_state",
    metadata,
    Column("book_id", Text, primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Every servicing command a loan took, in order, in the same transaction as its effects: what a
# reversal replays (servicing.replay). reversed_by: the key of the reversal that undid it.
loan_commands = Table(
    "loan_commands",
    metadata,
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("value_date", Date, nullable=False),
    Column("command_key", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("entry_id", Text, nullable=False, server_default=""),
    Column("reversed_by", Text, nullable=False, server_default=""),
    Column("recorded_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("loan_id", "seq"),
    Index(None, "entry_id"),
)

# Other contexts define their tables on this metadata in their own modules; importing them here
# registers them, so the migrations test sees one schema.
from lendstack.store import tables_api as _tables_api  # noqa: E402,F401
from lendstack.store import tables_collections as _tables_collections  # noqa: E402,F401
from lendstack.store import tables_decisioning as _tables_decisioning  # noqa: E402,F401
from lendstack.store import tables_monitoring as _tables_monitoring  # noqa: E402,F401
from lendstack.store import tables_origination as _tables_origination  # noqa: E402,F401
from lendstack.store import tables_repair as _tables_repair  # noqa: E402,F401
from lendstack.store import tables_staff as _tables_staff  # noqa: E402,F401
from lendstack.store import tables_webhooks as _tables_webhooks  # noqa: E402,F401
