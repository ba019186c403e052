"""The few reads the demo simulation makes without loading aggregates: whether a book exists, the
decision mix, a loan's status and days past due, and what a loan owes by a date. Reads only, on
the caller's connection.

`amount_due` is `servicing.balances.amount_due_minor` in SQL (`store.balance_sql`): the demo asks it
for every installment of every loan, and loading the loan costs more than the sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store.balance_sql import amount_due_minor
from lendstack.store.tables import loans
from lendstack.store.tables_decisioning import decisions


@dataclass(frozen=True, slots=True)
class LoanAge:
    """What the demo's write-off task looks at: is the loan live, and how far behind."""

    status: str
    days_past_due: int


@dataclass(frozen=True, slots=True)
class AmountDue:
    """What is due by a date and unpaid (penalty included, net of suspense), in minor units."""

    amount_minor: int
    currency: str


class DemoRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def book_exists(self) -> bool:
        """Any loan or any decision: the database already holds a book."""
        booked = self.connection.execute(select(func.count()).select_from(loans)).scalar()
        decided = self.connection.execute(select(func.count()).select_from(decisions)).scalar()
        return bool(booked or decided)

    def non_accrual_live_loans(self) -> int:
        query = select(func.count()).select_from(loans).where(
            loans.c.non_accrual.is_(True), loans.c.status.in_([s.value for s in LIVE_STATUSES]))
        return int(self.connection.execute(query).scalar_one())

    def decision_mix(self) -> dict[str, int]:
        """Acting decisions by outcome."""
        rows = self.connection.execute(select(decisions.c.outcome, func.count()).where(decisions.c.acting.is_(True))
                                       .group_by(decisions.c.outcome)).all()
        return {str(outcome): int(n) for outcome, n in rows}

    def loan_age(self, loan_id: str) -> LoanAge:
        """The loan's status and days past due; the loan must exist."""
        row = self.connection.execute(
            select(loans.c.status, loans.c.days_past_due).where(loans.c.loan_id == loan_id)).one()
        return LoanAge(str(row.status), int(row.days_past_due))

    def amount_due(self, loan_id: str, as_of: date) -> AmountDue:
        """What is due by `as_of` and unpaid, with penalty and net of suspense; the loan must exist."""
        row = self.connection.execute(select(loans.c.currency, amount_due_minor(as_of).label("due"))
                                      .where(loans.c.loan_id == loan_id)).one()
        return AmountDue(int(row.due), str(row.currency))
