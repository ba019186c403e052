"""What every servicing command returns: the new loan, the ledger entries, the domain events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from lendstack.events import DomainEvent
from lendstack.invariants import check
from lendstack.ledger import AccountCode, EntryKind, JournalEntry, Posting
from lendstack.servicing.loan import Loan


@dataclass(frozen=True, slots=True)
class Outcome:
    loan: Loan
    entries: tuple[JournalEntry, ...] = ()
    events: tuple[DomainEvent, ...] = ()
    result: dict[str, Any] = field(default_factory=dict)

    def then(self, other: Outcome) -> Outcome:
        """Chain two steps on the same loan: keep the later loan, all entries and events."""
        check(other.loan.loan_id == self.loan.loan_id, "chained steps are on the same loan")
        return Outcome(
            other.loan,
            self.entries + other.entries,
            self.events + other.events,
            {**self.result, **other.result},
        )


def postings(loan: Loan, pairs: Iterable[tuple[AccountCode, int]]) -> tuple[Posting, ...]:
    """Postings for one loan, dropping zero amounts (a zero posting says nothing)."""
    return tuple(
        Posting(code, loan.currency, amount, loan.loan_id, loan.funder_id) for code, amount in pairs if amount != 0
    )


def entry(
    loan: Loan, entry_id: str, kind: EntryKind, on: date, pairs: Iterable[tuple[AccountCode, int]], memo: str = ""
) -> tuple[JournalEntry, ...]:
    """Zero or one balanced entry (none when every amount is zero)."""
    lines = postings(loan, pairs)
    if not lines:
        return ()
    return (JournalEntry(entry_id, kind, on, lines, loan.loan_id, memo),)


def event(loan: Loan, event_id: str, event_type: str, on: date, **payload: Any) -> DomainEvent:
    body = {"loan_id": loan.loan_id, "value_date": on.isoformat(), "status": loan.status.value, **payload}
    return DomainEvent(event_id, event_type, "loan", loan.loan_id, datetime.now(UTC), body)
