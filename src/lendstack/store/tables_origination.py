"""Origination tables (migration 0003): applicants, applications, their status history, data snapshots, blacklist.

Identifiers live on the application row (what was used on that day), indexed with the date, so the
fraud velocity counts are index range scans. Money columns are BIGINT minor units.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Date, Float, ForeignKey, Index, Integer, Table, Text

from lendstack.store.tables import SurrogateKey, UtcDateTime, metadata

IDENTIFIER_COLUMNS = ("phone_hash", "device_id", "bank_account_hash", "address_hash")

applicants = Table(
    "applicants",
    metadata,
    Column("applicant_id", Text, primary_key=True),
    Column("applicant_type", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("language", Text, nullable=False, server_default=""),  # en | zh-CN | "" (not stated): migration 0012
    # Migration 0014: the partner that brought the applicant ('' = staff) and the id that partner names it
    # by. A partner reaches only its own applicants, by (partner_id, reference); applicant_id is the book's id.
    Column("partner_id", Text, nullable=False, server_default=""),
    Column("reference", Text, nullable=False, server_default=""),
    Index(None, "partner_id", "reference", unique=True),
)

applications = Table(
    "applications",
    metadata,
    Column("application_id", Text, primary_key=True),
    Column("applicant_id", Text, ForeignKey("applicants.applicant_id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("currency", Text, nullable=False),
    Column("requested_amount_minor", BigInteger, nullable=False),
    Column("declared_monthly_revenue_minor", BigInteger, nullable=True),
    Column("requested_term_months", Integer, nullable=False),
    Column("product_id", Text, nullable=False, server_default=""),
    Column("partner_id", Text, nullable=False, server_default=""),
    # Migration 0014: the id the partner names the application by (its own namespace: two partners may
    # use the same one), and the loan an accepted offer booked ('' until then; random, not derived).
    Column("reference", Text, nullable=False, server_default=""),
    Column("loan_id", Text, nullable=False, server_default=""),
    *(Column(name, Text, nullable=False) for name in IDENTIFIER_COLUMNS),
    Column("document", JSON, nullable=False),  # the submitted document, as parsed and normalised
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "applicant_id", "applied_on"),
    *(Index(None, name, "applied_on") for name in IDENTIFIER_COLUMNS),
    Index(None, "status"),
    Index(None, "partner_id", "reference", unique=True),
    Index(None, "loan_id"),
)

application_status_history = Table(
    "application_status_history",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("application_id", Text, ForeignKey("applications.application_id"), nullable=False, index=True),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("changed_at", UtcDateTime, nullable=False),
)

application_snapshots = Table(
    "application_snapshots",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("application_id", Text, ForeignKey("applications.application_id"), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),  # sha256 hex of the canonical {source, payload}
    Column("payload", JSON, nullable=False),
    Column("error", Text, nullable=False, server_default=""),
    Column("latency_ms", Float, nullable=False),
    Column("fetched_at", UtcDateTime, nullable=False),
)

blacklist_entries = Table(
    "blacklist_entries",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("listed_on", Date, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)
