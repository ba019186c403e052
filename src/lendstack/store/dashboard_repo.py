"""The dashboard's flows and the book's extent, in SQL: applications and disbursements per day,
the currencies and the latest activity. The frames of the book itself come from
`PortfolioRepository`; `read_snapshot` opens the one connection all of them share."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from lendstack.monitoring.dashboard import DayApplications, DayDisbursed
from lendstack.store.tables import loans
from lendstack.store.tables_origination import applications


def read_snapshot(engine: Engine) -> Connection:
    """A connection whose reads share one snapshot. SQLite's transactions begin IMMEDIATE (see
    store.db), which already holds writers off; PostgreSQL needs REPEATABLE READ for that."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


class DashboardRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def latest_application_day(self) -> date | None:
        found = self.connection.execute(select(func.max(applications.c.applied_on))).scalar()
        return found if isinstance(found, date) else None

    def latest_disbursement_day(self) -> date | None:
        found = self.connection.execute(select(func.max(loans.c.disbursed_on))).scalar()
        return found if isinstance(found, date) else None

    def currencies(self) -> list[str]:
        """Every currency a loan or an application is in, sorted."""
        found = {str(r[0]) for r in self.connection.execute(select(loans.c.currency).distinct())}
        found |= {str(r[0]) for r in self.connection.execute(select(applications.c.currency).distinct())}
        return sorted(found)

    def applications_by_day(self, start: date, end: date, currency: str | None, *, approved: tuple[str, ...],
                            declined: tuple[str, ...], referred: tuple[str, ...]) -> dict[date, DayApplications]:
        """Applications applied on each day of [start, end] (in `currency`, if given), counted by the
        statuses that make each of approved, declined and referred."""
        a = applications.c

        def count_of(statuses: tuple[str, ...]) -> Any:
            return func.sum(case((a.status.in_(statuses), 1), else_=0))

        query = (select(a.applied_on, func.count(), count_of(approved), count_of(declined), count_of(referred))
                 .where(a.applied_on >= start, a.applied_on <= end).group_by(a.applied_on))
        if currency is not None:
            query = query.where(a.currency == currency)
        return {r[0]: DayApplications(int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0))
                for r in self.connection.execute(query)}

    def disbursed_by_day(self, start: date, end: date, currency: str | None) -> dict[tuple[date, str], DayDisbursed]:
        """Loans disbursed on each day of [start, end] per currency (only `currency`, if given)."""
        c = loans.c
        query = (select(c.disbursed_on, c.currency, func.count(), func.sum(c.principal_disbursed_minor))
                 .where(c.disbursed_on.is_not(None), c.disbursed_on >= start, c.disbursed_on <= end)
                 .group_by(c.disbursed_on, c.currency))
        if currency is not None:
            query = query.where(c.currency == currency)
        return {(r[0], str(r[1])): DayDisbursed(int(r[2]), int(r[3] or 0)) for r in self.connection.execute(query)}
