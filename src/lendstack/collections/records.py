"""What collections stores and reads, as values: cases, contacts, promises to pay, messages sent, history,
and the slices of the book the daily run reads (loan balances, installments). No I/O.

The stored records carry exactly the columns of their tables, in the tables' order, so that `to_json()`
is the JSON document the shells have always printed: the columns in order, dates and times in ISO form.
The repository (`collections/repository.py`) builds them from rows and writes them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lendstack.collections.domain import PPM


def columns_of(record: Any) -> dict[str, Any]:
    """A record's fields in declaration order (the table's column order)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def json_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dates and times as ISO strings (a datetime is a date too); everything else as it is."""
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


def _without_missing_id(values: dict[str, Any]) -> dict[str, Any]:
    # A record not yet stored has no surrogate id; its document has no "id" key (as before the split).
    if values.get("id", 0) is None:
        del values["id"]
    return values


# --------------------------------------------------------------------------- stored records


@dataclass(frozen=True, slots=True)
class Case:
    """One spell of delinquency of one loan (collection_cases)."""

    case_id: str
    loan_id: str
    status: str
    opened_on: date
    closed_on: date | None
    close_reason: str
    as_of: date
    currency: str
    days_past_due: int
    bucket: str
    stage: str
    risk_band: str
    roll_ppm: int
    amount_overdue_minor: int
    exposure_minor: int
    priority_minor: int
    escalated: bool
    broken_promises: int
    collector: str
    assigned_at: datetime | None
    last_stage: str
    last_step_on: date | None
    next_action: str
    strategy: str
    created_at: datetime
    updated_at: datetime

    @property
    def p_roll(self) -> str:
        return f"{Decimal(int(self.roll_ppm)) / PPM:.6f}"

    def to_json(self) -> dict[str, Any]:
        out = json_of(columns_of(self))
        out["p_roll"] = self.p_roll
        return out


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact attempt and its outcome (collection_contacts); `id` is None until stored."""

    id: int | None
    case_id: str
    loan_id: str
    outcome: str
    note: str
    by: str
    contacted_at: datetime
    recorded_at: datetime

    def to_json(self) -> dict[str, Any]:
        return json_of(_without_missing_id(columns_of(self)))


@dataclass(frozen=True, slots=True)
class PromiseToPay:
    """A promise to pay (collection_promises)."""

    promise_id: str
    case_id: str
    loan_id: str
    amount_minor: int
    currency: str
    made_on: date
    promised_for: date
    follow_up_on: date
    status: str
    paid_minor: int
    evaluated_on: date | None
    by: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return json_of(columns_of(self))


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the run sent through a channel, with the channel's receipt (collection_messages)."""

    message_id: str
    loan_id: str
    case_id: str
    as_of: date
    step_id: str
    action: str
    channel: str
    language: str
    template: str
    body: dict[str, str]
    receipt: dict[str, Any]
    sent_at: datetime

    def to_json(self) -> dict[str, Any]:
        return json_of(columns_of(self))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a case's history (collection_history); `id` is None until stored."""

    id: int | None
    case_id: str
    on: date
    kind: str
    by: str
    detail: dict[str, Any]
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return json_of(_without_missing_id(columns_of(self)))


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """One case with its contact log, promises, messages and history (the console's case page)."""

    case: Case
    contacts: Sequence[Contact]
    promises: Sequence[PromiseToPay]
    messages: Sequence[SentMessage]
    history: Sequence[HistoryEntry]

    def to_json(self) -> dict[str, Any]:
        return {**self.case.to_json(), "contacts": [c.to_json() for c in self.contacts],
                "promises": [p.to_json() for p in self.promises],
                "messages": [m.to_json() for m in self.messages],
                "history": [h.to_json() for h in self.history]}


@dataclass(frozen=True, slots=True)
class CollectorAccount:
    """What assignment needs of a staff user: may they log in and work cases?"""

    username: str
    role: str
    enabled: bool


# --------------------------------------------------------------------------- what the run reads of the book


@dataclass(frozen=True, slots=True)
class LoanBalances:
    """A loan's standing and the sub-ledger counters the run's arithmetic reads (loans)."""

    loan_id: str
    status: str
    currency: str
    bucket: str
    days_past_due: int
    principal_disbursed_minor: int
    principal_capitalized_minor: int
    principal_repaid_minor: int
    principal_written_off_minor: int
    interest_accrued_minor: int
    interest_paid_minor: int
    interest_written_off_minor: int
    interest_capitalized_minor: int
    fee_charged_minor: int
    fee_paid_minor: int
    fee_written_off_minor: int
    fee_capitalized_minor: int
    penalty_accrued_minor: int
    penalty_paid_minor: int
    penalty_written_off_minor: int
    penalty_capitalized_minor: int


@dataclass(frozen=True, slots=True)
class InstallmentAmounts:
    """One installment's due date, amounts and what was paid of them (installments)."""

    loan_id: str
    seq: int
    due_date: date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    principal_paid_minor: int
    interest_paid_minor: int
    fee_paid_minor: int
