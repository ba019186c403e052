"""The console's lists and the parts of its detail pages no other repository reads: a page of
applications or loans, an application's stored row, whether a loan exists, a loan's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from lendstack.store.balance_sql import principal_outstanding_minor
from lendstack.store.tables import loans, outbox
from lendstack.store.tables_origination import applications

PAGE_ROWS_MAX = 1_000  # one page (plus the one row that says there is a next) is never more


@dataclass(frozen=True, slots=True)
class ApplicationListRow:
    application_id: str
    status: str
    product_id: str | None
    applied_on: date
    currency: str
    requested_amount_minor: int
    requested_term_months: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LoanListRow:
    loan_id: str
    status: str
    product_id: str
    currency: str
    principal_minor: int
    principal_outstanding_minor: int
    days_past_due: int
    bucket: str
    disbursed_on: date | None


@dataclass(frozen=True, slots=True)
class LoanEvent:
    """An event of a loan's outbox history (status and DPD moves, payments, ...)."""

    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime


class BrowseRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def application_page(self, status: str | None, limit: int, offset: int) -> list[ApplicationListRow]:
        """Applications newest first (in `status`, if given), `limit` of them from `offset`."""
        assert 0 < limit <= PAGE_ROWS_MAX and offset >= 0
        c = applications.c
        query = select(c.application_id, c.status, c.product_id, c.applied_on, c.currency, c.requested_amount_minor,
                       c.requested_term_months, c.updated_at).order_by(c.created_at.desc(), c.application_id)
        if status:
            query = query.where(c.status == status)
        return [ApplicationListRow(**r._mapping) for r in self.connection.execute(query.limit(limit).offset(offset))]

    def application_record(self, application_id: str) -> dict[str, Any] | None:
        """The application's stored row, every column by name (what its detail page lists)."""
        row = self.connection.execute(
            select(applications).where(applications.c.application_id == application_id)).first()
        return None if row is None else dict(row._mapping)

    def loan_page(self, status: str | None, limit: int, offset: int) -> list[LoanListRow]:
        """Loans by id (in `status`, if given), `limit` of them from `offset`."""
        assert 0 < limit <= PAGE_ROWS_MAX and offset >= 0
        c = loans.c
        query = select(c.loan_id, c.status, c.product_id, c.currency, c.principal_minor,
                       principal_outstanding_minor().label("principal_outstanding_minor"), c.days_past_due, c.bucket,
                       c.disbursed_on).order_by(c.loan_id)
        if status:
            query = query.where(c.status == status)
        return [LoanListRow(**r._mapping) for r in self.connection.execute(query.limit(limit).offset(offset))]

    def loan_exists(self, loan_id: str) -> bool:
        return self.connection.execute(select(loans.c.loan_id).where(loans.c.loan_id == loan_id)).first() is not None

    def loan_events(self, loan_id: str, limit: int) -> list[LoanEvent]:
        """The loan's events in publication order, the first `limit`."""
        o = outbox.c
        query = (select(o.event_type, o.payload, o.occurred_at).where(o.aggregate_type == "loan",
                                                                      o.aggregate_id == loan_id)
                 .order_by(o.seq).limit(limit))
        return [LoanEvent(str(r.event_type), dict(r.payload), r.occurred_at) for r in self.connection.execute(query)]
