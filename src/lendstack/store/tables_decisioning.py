"""Decisioning tables: policies (versioned, hashed), decisions (everything to reproduce one),
champion/challenger assignments and the manual review queue. Created by migration 0004."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Table, Text, UniqueConstraint

from lendstack.store.tables import SurrogateKey, UtcDateTime, metadata

decision_policies = Table(
    "decision_policies",
    metadata,
    Column("policy_id", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("content_hash", Text, nullable=False),
    Column("document", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("application_id", Text, nullable=False),
    Column("arm", Text, nullable=False),  # champion | challenger | shadow
    Column("acting", Boolean, nullable=False),  # the decision acted on (one per application)
    Column("outcome", Text, nullable=False),
    Column("grade", Text, nullable=False),
    Column("pd", Text, nullable=False),  # exact decimal text
    Column("rate_annual", Text, nullable=False),
    Column("limit_minor", BigInteger, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("fingerprints", JSON, nullable=False),
    Column("policy_id", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("policy_hash", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("model_hash", Text, nullable=False),
    Column("input", JSON, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("decision", JSON, nullable=False),
    Column("applicant_id", Text, nullable=False),
    Column("household_key", Text, nullable=False),  # the address hash: 小额分散 per household
    Column("segment", Text, nullable=False),
    Column("exposure_minor", BigInteger, nullable=False),  # the approved offer, 0 otherwise
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("application_id", "arm"),
    Index(None, "outcome"),
    # The exposure sums of a decision, read from the index alone (migration 0011).
    Index(None, "applicant_id", "acting", "exposure_minor"),
    Index(None, "household_key", "acting", "exposure_minor"),
    Index(None, "segment", "acting", "exposure_minor"),
)

decision_assignments = Table(
    "decision_assignments",
    metadata,
    Column("application_id", Text, primary_key=True),
    Column("experiment", Text, nullable=False),
    Column("arm", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

review_queue = Table(
    "review_queue",
    metadata,
    Column("application_id", Text, primary_key=True),
    Column("status", Text, nullable=False),  # open | assigned | done
    Column("assignee", Text, nullable=False, server_default=""),
    Column("action", Text, nullable=False, server_default=""),  # approve | decline | counter_offer
    Column("note", Text, nullable=False, server_default=""),
    Column("counter_offer", JSON, nullable=True),
    Column("history", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status"),
)
