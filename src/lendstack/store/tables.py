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
