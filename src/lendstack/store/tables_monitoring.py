"""Monitoring tables: post-loan data snapshots and early-warning alerts. Created by migration 0006."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, PrimaryKeyConstraint, Table, Text

from lendstack.store.tables import UtcDateTime, metadata

post_loan_snapshots = Table(
    "post_loan_snapshots",
    metadata,
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("source", Text, nullable=False),  # pos | tax | bureau | telematics | device
    Column("as_of", Date, nullable=False),  # the business date the data describes, not when it arrived
    Column("payload", JSON, nullable=False),
    Column("fingerprint", Text, nullable=False),  # sha256 of {source, payload}, as at origination
    Column("received_at", UtcDateTime, nullable=False),
    # One snapshot per loan, source and date: a re-sent identical record is a no-op, a different one is refused.
    PrimaryKeyConstraint("loan_id", "source", "as_of"),
)

ew_alerts = Table(
    "ew_alerts",
    metadata,
    Column("alert_id", Text, primary_key=True),  # derived from (loan_id, indicator, as_of): runs are idempotent
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("indicator", Text, nullable=False),
    Column("severity", Text, nullable=False),  # info | warn | high | critical
    Column("as_of", Date, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("actions", JSON, nullable=False),  # from the indicator set, per severity
    Column("status", Text, nullable=False),  # open | acknowledged | assigned | closed
    Column("assignee", Text, nullable=False),  # '' = nobody
    Column("history", JSON, nullable=False),  # [{action, by, at, from, to, ...}], append-only
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "severity"),
    Index(None, "loan_id"),
)
