"""Open API tables: partner/staff API keys (hashed), the audit trail of state-changing calls, the
HTTP idempotency record (first response per key) and which partner brought which loan.
Created by migration 0005."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from lendstack.store.tables import SurrogateKey, UtcDateTime, metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    # sha256 of the whole token: the token is 256 random bits, so a fast hash cannot be brute-forced
    # and lets us find the key by an indexed equality lookup.
    Column("key_hash", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("partner_id", Text, nullable=False),  # '' for staff keys
    Column("label", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

api_audit = Table(
    "api_audit",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("key_id", Text, nullable=False),  # '' when the caller could not be authenticated
    Column("role", Text, nullable=False),
    Column("partner_id", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("client", Text, nullable=False),  # remote address: "from where"
    Column("idempotency_key", Text, nullable=False),
    Index("ix_api_audit_key_id", "key_id"),
)

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("key_id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("key_id", "idempotency_key"),
)

api_loan_partners = Table(
    "api_loan_partners",
    metadata,
    Column("loan_id", Text, primary_key=True),
    Column("partner_id", Text, nullable=False),
    Index("ix_api_loan_partners_partner_id", "partner_id"),
)
