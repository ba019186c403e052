"""What the console's list and detail pages show, read-only: a page of applications or loans,
one application with its decision, review, data sources and history, one loan with its ledger
entries, events and the payments a reversal may still take. Writes go through the other services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lendstack.ledger import JournalEntry
from lendstack.origination import Snapshot
from lendstack.services.naming import loan_id_for
from lendstack.servicing import Loan, ServicingError
from lendstack.store import Engine, UnitOfWork
from lendstack.store.browse_repo import ApplicationListRow, BrowseRepository, LoanEvent, LoanListRow
from lendstack.store.decision_repo import DecisionRepository, ReviewItem, StoredDecision
from lendstack.store.origination_repo import ApplicationRepository, StatusChange

PAGE_SIZE = 50
PAGE_OFFSET_MAX = 1_000_000
EVENTS_MAX = 500
PAYMENT_KINDS = ("repay", "prepay", "recovery", "reversal")  # the entries the payments table lists
REVERSIBLE_COMMANDS = ("repay", "prepay")


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """Everything the application page shows; `loan_id` only once the loan is booked."""

    application: dict[str, Any]  # the stored row, every column by name
    status: str
    history: list[StatusChange]
    snapshots: list[Snapshot]
    decision: StoredDecision | None
    review: ReviewItem | None
    loan_id: str | None


@dataclass(frozen=True, slots=True)
class LoanView:
    """The loan, its ledger entries and its event history; its payments, those reversed, and those
    a reversal may still take (logged repayments and prepayments not reversed yet)."""

    loan: Loan
    entries: tuple[JournalEntry, ...]
    events: list[LoanEvent]
    payments: list[JournalEntry]
    reversed_ids: set[str]
    reversible: list[JournalEntry]


def _page(offset: int) -> int:
    return min(max(offset, 0), PAGE_OFFSET_MAX)


def application_rows(engine: Engine, *, status: str | None, offset: int = 0) -> tuple[list[ApplicationListRow], bool]:
    """A page of applications, newest first; (rows, whether there is a next page)."""
    with engine.connect() as conn:
        rows = BrowseRepository(conn).application_page(status, PAGE_SIZE + 1, _page(offset))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def application_view(engine: Engine, application_id: str) -> ApplicationView | None:
    """Everything the detail page shows, or None if there is no such application."""
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        if repo.get(application_id) is None:
            return None
        decisions = DecisionRepository(uow.connection)
        browse = BrowseRepository(uow.connection)
        record = browse.application_record(application_id)
        assert record is not None, application_id
        loan_id = loan_id_for(application_id, str(record["loan_id"]))
        return ApplicationView(
            application=record, status=repo.status_of(application_id), history=repo.history(application_id),
            snapshots=list(repo.snapshots(application_id).snapshots.values()),
            decision=decisions.get(application_id), review=decisions.review(application_id),
            loan_id=loan_id if browse.loan_exists(loan_id) else None)


def loan_rows(engine: Engine, *, status: str | None, offset: int = 0) -> tuple[list[LoanListRow], bool]:
    """A page of loans by id; (rows, whether there is a next page)."""
    with engine.connect() as conn:
        rows = BrowseRepository(conn).loan_page(status, PAGE_SIZE + 1, _page(offset))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def loan_view(engine: Engine, loan_id: str) -> LoanView | None:
    """The loan, its ledger entries and its event history (status and DPD moves), or None."""
    with UnitOfWork(engine) as uow:
        try:
            loan = uow.loans.get(loan_id)
        except ServicingError:
            return None
        entries = uow.ledger.entries_for_loan(loan_id)
        events = BrowseRepository(uow.connection).loan_events(loan_id, EVENTS_MAX)
        commands = uow.loans.commands(loan_id)
    payments = [e for e in entries if e.kind.value in PAYMENT_KINDS]
    reversed_ids = {c.entry_id for c in commands if c.reversed_by}
    open_ids = {c.entry_id for c in commands if c.kind in REVERSIBLE_COMMANDS and not c.reversed_by}
    return LoanView(loan=loan, entries=entries, events=events, payments=payments, reversed_ids=reversed_ids,
                    reversible=[e for e in payments if e.entry_id in open_ids])
