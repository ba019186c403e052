"""Collections tables: cases, messages sent, contact log, promises to pay, case history. Created by
migration 0009. A case is one spell of delinquency of one loan; it closes when the loan is current again,
repaid or written off, and a new spell opens a new case."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, Table, Text

from lendstack.store.tables import SurrogateKey, UtcDateTime, metadata

collection_cases = Table(
    "collection_cases",
    metadata,
    Column("case_id", Text, primary_key=True),  # "C-<loan_id>-<opened_on>"
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("status", Text, nullable=False),  # open | closed
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date, nullable=True),
    Column("close_reason", Text, nullable=False),  # '' | current | closed | written_off
    Column("as_of", Date, nullable=False),  # the business date of the last run that updated it
    Column("currency", Text, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("bucket", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("risk_band", Text, nullable=False),  # low | medium | high
    Column("roll_ppm", Integer, nullable=False),  # P(roll to the next bucket) in parts per million
    Column("amount_overdue_minor", BigInteger, nullable=False),
    Column("exposure_minor", BigInteger, nullable=False),
    Column("priority_minor", BigInteger, nullable=False),  # amount × P(roll): the expected amount that rolls
    Column("escalated", Boolean, nullable=False),  # a promise was broken: treated as high risk from then on
    Column("broken_promises", Integer, nullable=False),
    Column("collector", Text, nullable=False),  # '' = unassigned
    Column("assigned_at", UtcDateTime, nullable=True),
    Column("last_stage", Text, nullable=False),  # the stage of the last step taken ('' = none yet)
    Column("last_step_on", Date, nullable=True),
    Column("next_action", Text, nullable=False),  # what the collector should do: call | escalate | ...
    Column("strategy", Text, nullable=False),  # strategy_id@version of the last run
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "priority_minor"),
    Index(None, "collector", "status"),
    Index(None, "loan_id"),
)

collection_messages = Table(
    "collection_messages",
    metadata,
    Column("message_id", Text, primary_key=True),  # loan, step, day, channel: a run never sends twice
    Column("loan_id", Text, ForeignKey("loans.loan_id"), nullable=False),
    Column("case_id", Text, nullable=False),  # '' for a reminder before the due date
    Column("as_of", Date, nullable=False),
    Column("step_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("channel", Text, nullable=False),  # sms | email | push
    Column("language", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("body", JSON, nullable=False),  # {"en": ..., "zh-CN": ...}
    Column("receipt", JSON, nullable=False),  # what the channel answered
    Column("sent_at", UtcDateTime, nullable=False),
    Index(None, "loan_id", "as_of"),
)

collection_contacts = Table(
    "collection_contacts",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("case_id", Text, ForeignKey("collection_cases.case_id"), nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("outcome", Text, nullable=False),  # reached | no_answer | wrong_number | refused | promised
    Column("note", Text, nullable=False),
    Column("by", Text, nullable=False),
    Column("contacted_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index(None, "case_id"),
)

collection_promises = Table(
    "collection_promises",
    metadata,
    Column("promise_id", Text, primary_key=True),
    Column("case_id", Text, ForeignKey("collection_cases.case_id"), nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("made_on", Date, nullable=False),
    Column("promised_for", Date, nullable=False),
    Column("follow_up_on", Date, nullable=False),  # promised_for + grace: the run decides kept / broken
    Column("status", Text, nullable=False),  # pending | kept | broken | cancelled
    Column("paid_minor", BigInteger, nullable=False),  # cash received from made_on, as last evaluated
    Column("evaluated_on", Date, nullable=True),
    Column("by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "case_id"),
    Index(None, "status"),
)

collection_history = Table(
    "collection_history",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("case_id", Text, ForeignKey("collection_cases.case_id"), nullable=False),
    Column("on", Date, nullable=False),  # business date
    Column("kind", Text, nullable=False),  # opened | step | contact | promise | promise_kept | ... | closed
    Column("by", Text, nullable=False),  # 'system' for the daily run
    Column("detail", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "case_id"),
)
