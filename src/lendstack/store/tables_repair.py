"""Credit repair tables: program applications and grants. Created by migration 0010.

A grant points at the repaired record (a loan's installment); the installment itself is never
changed or deleted. Internal scoring counts overdue records that no grant points at."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, Table, Text, UniqueConstraint

from lendstack.store.tables import UtcDateTime, metadata

credit_repair_applications = Table(
    "repair_applications",
    metadata,
    Column("application_id", Text, primary_key=True),
    Column("borrower_id", Text, nullable=False),  # applicant:<id> when the loan has a decision, else loan:<id>
    Column("applicant_id", Text, nullable=False),  # '' = none
    Column("loan_id", Text, nullable=False),  # '' = the application names the applicant
    Column("applied_on", Date, nullable=False),
    Column("status", Text, nullable=False),  # granted | refused
    Column("reasons", JSON, nullable=False),  # [{code, en, zh}], empty when granted
    Column("evidence", JSON, nullable=False),  # months on time, records seen: what the decision was based on
    Column("program", JSON, nullable=False),  # the program settings applied
    Column("history", JSON, nullable=False),  # [{action, at, by, ...}], append-only
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "borrower_id"),
)

credit_repair_grants = Table(
    "repair_grants",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("application_id", Text, ForeignKey("repair_applications.application_id"), nullable=False),
    Column("borrower_id", Text, nullable=False),
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("installment_seq", Integer, nullable=False),
    Column("record_type", Text, nullable=False),  # late_payment | serious_delinquency
    Column("due_date", Date, nullable=False),
    Column("paid_on", Date, nullable=False),  # only historical (paid-off) records are repaired
    Column("days_late", Integer, nullable=False),
    Column("granted_on", Date, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("loan_id", "installment_seq"),  # a record is repaired at most once
    Index(None, "borrower_id"),
)
