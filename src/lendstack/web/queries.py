"""Read-only views the console pages show: plain dicts from SQLAlchemy Core over the store's tables
and repositories. Writes never happen here; they go through lendstack.services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from lendstack.ledger import JournalEntry
from lendstack.services.naming import loan_id_for
from lendstack.servicing import Loan, ServicingError
from lendstack.store import UnitOfWork
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.store.tables import loans, outbox
from lendstack.store.tables_origination import applications

PAGE_SIZE = 50
PAGE_OFFSET_MAX = 1_000_000
EVENTS_MAX = 500


def _page(offset: int) -> int:
    return min(max(offset, 0), PAGE_OFFSET_MAX)


def application_rows(engine: Engine, *, status: str | None, offset: int = 0) -> tuple[list[dict[str, Any]], bool]:
    """A page of applications, newest first; (rows, whether there is a next page)."""
    c = applications.c
    query = select(c.application_id, c.status, c.product_id, c.applied_on, c.currency, c.requested_amount_minor,
                   c.requested_term_months, c.updated_at).order_by(c.created_at.desc(), c.application_id)
    if status:
        query = query.where(c.status == status)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.limit(PAGE_SIZE + 1).offset(_page(offset)))]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def application_view(engine: Engine, application_id: str) -> dict[str, Any] | None:
    """Everything the detail page shows, or None if there is no such application."""
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        stored = repo.get(application_id)
        if stored is None:
            return None
        decisions = DecisionRepository(uow.connection)
        decision = decisions.get(application_id)
        review = decisions.review(application_id)
        snapshots = list(repo.snapshots(application_id).snapshots.values())
        history = repo.history(application_id)
        status = repo.status_of(application_id)
        row = uow.connection.execute(select(applications).where(applications.c.application_id == application_id)).one()
        loan_id = loan_id_for(application_id, str(row.loan_id))
        booked = uow.connection.execute(select(loans.c.loan_id).where(loans.c.loan_id == loan_id)).first()
    return {"application": dict(row._mapping), "status": status, "history": history, "snapshots": snapshots,
            "decision": decision, "review": review, "loan_id": loan_id if booked is not None else None}


def loan_rows(engine: Engine, *, status: str | None, offset: int = 0) -> tuple[list[dict[str, Any]], bool]:
    c = loans.c
    # The same arithmetic as Loan.principal_outstanding_minor, over the stored counters.
    outstanding = (c.principal_disbursed_minor + c.principal_capitalized_minor - c.principal_repaid_minor
                   - c.principal_written_off_minor).label("principal_outstanding_minor")
    query = select(c.loan_id, c.status, c.product_id, c.currency, c.principal_minor, outstanding,
                   c.days_past_due, c.bucket, c.disbursed_on).order_by(c.loan_id)
    if status:
        query = query.where(c.status == status)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.limit(PAGE_SIZE + 1).offset(_page(offset)))]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def loan_view(engine: Engine, loan_id: str) -> dict[str, Any] | None:
    """The loan, its ledger entries and its event history (status and DPD moves), or None."""
    with UnitOfWork(engine) as uow:
        try:
            loan: Loan = uow.loans.get(loan_id)
        except ServicingError:
            return None
        entries: tuple[JournalEntry, ...] = uow.ledger.entries_for_loan(loan_id)
        o = outbox.c
        events = [dict(r._mapping) for r in uow.connection.execute(
            select(o.event_type, o.payload, o.occurred_at).where(o.aggregate_type == "loan", o.aggregate_id == loan_id)
            .order_by(o.seq).limit(EVENTS_MAX))]
        commands = uow.loans.commands(loan_id)
    payments = [e for e in entries if e.kind.value in ("repay", "prepay", "recovery", "reversal")]
    reversed_ids = {c.entry_id for c in commands if c.reversed_by}
    # Payments a reversal may still take: logged repayments and prepayments not reversed yet.
    reversible = [e for e in payments if e.entry_id in {c.entry_id for c in commands
                                                        if c.kind in ("repay", "prepay") and not c.reversed_by}]
    return {"loan": loan, "entries": entries, "events": events, "payments": payments,
            "reversed_ids": reversed_ids, "reversible": reversible}


def count_loans(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(loans)).scalar_one())
