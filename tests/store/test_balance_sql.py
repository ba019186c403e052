"""The balance expressions of store/balance_sql.py equal the Loan properties they mirror, for random
loans (random products, random days of repayments, prepayments, write-offs and end of day, some in
non-accrual) stored through the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, Engine, FromClause, select
from tests.servicing.servicing_strategies import START, actions, close_days, new_loans, try_command

from lendstack.money import Money
from lendstack.products import get_product
from lendstack.servicing import Loan, book, disburse
from lendstack.servicing.balances import amount_due_minor, unpaid_due_minor
from lendstack.servicing.income import enter_non_accrual
from lendstack.store import UnitOfWork
from lendstack.store import balance_sql as sql
from lendstack.store.tables import installments, loans

MIRRORS: dict[str, tuple[Callable[[FromClause], ColumnElement[Any]], Callable[[Loan], int]]] = {
    "principal_outstanding": (sql.principal_outstanding_minor, lambda loan: loan.principal_outstanding_minor),
    "interest_receivable": (sql.interest_receivable_minor, lambda loan: loan.interest_receivable_minor),
    "fee_receivable": (sql.fee_receivable_minor, lambda loan: loan.fee_receivable_minor),
    "penalty_receivable": (sql.penalty_receivable_minor, lambda loan: loan.penalty_receivable_minor),
    "interest_on_balance": (sql.interest_on_balance_minor, lambda loan: loan.interest_on_balance_minor),
    "interest_memo": (sql.interest_memo_minor, lambda loan: loan.interest_memo_minor),
    "penalty_on_balance": (sql.penalty_on_balance_minor, lambda loan: loan.penalty_on_balance_minor),
    "penalty_memo": (sql.penalty_memo_minor, lambda loan: loan.penalty_memo_minor),
    "written_off": (sql.written_off_minor, lambda loan: loan.written_off_minor),
    "claim_after_write_off": (sql.claim_after_write_off_minor, lambda loan: loan.claim_after_write_off_minor),
}
_ids = itertools.count()


@st.composite
def serviced_loans(draw: st.DrawFn) -> Loan:
    """A disbursed loan taken through up to 120 random days (one command a day at most, end of day
    closing each), some of them put into non-accrual."""
    loan = draw(new_loans(f"BAL-{next(_ids)}"))
    assert loan.accrued_through is not None
    day = loan.accrued_through
    for _ in range(draw(st.integers(0, 120))):
        day += timedelta(days=1)
        ((kind, permille),) = draw(actions)
        done = try_command(loan, day, kind, permille, f"k{day}")
        if done is not None:
            loan = done.loan
        if loan.is_live:
            loan = close_days(loan, [], day)
    if loan.is_live and not loan.non_accrual and draw(st.booleans()):
        loan = enter_non_accrual(loan)[0]
    return loan


def _stored(engine: Engine, loan: Loan) -> Loan:
    with UnitOfWork(engine) as uow:
        uow.loans.add(dataclasses.replace(loan, version=0))
        return uow.loans.get(loan.loan_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(loan=serviced_loans(), days_after=st.integers(-40, 400))
def test_every_balance_expression_equals_its_loan_property(engine: Engine, loan: Loan, days_after: int) -> None:
    stored = _stored(engine, loan)
    as_of = (stored.disbursed_on or date(2026, 1, 1)) + timedelta(days=days_after)
    columns = [expr(loans).label(name) for name, (expr, _) in MIRRORS.items()]
    with engine.connect() as conn:
        row = conn.execute(select(*columns, sql.amount_due_minor(as_of).label("amount_due"))
                           .where(loans.c.loan_id == stored.loan_id)).one()._mapping
        unpaid = conn.execute(select(sql.installment_unpaid_minor(installments))
                              .where(installments.c.loan_id == stored.loan_id,
                                     installments.c.due_date <= as_of)).scalars().all()
    for name, (_, prop) in MIRRORS.items():
        assert int(row[name]) == prop(stored), name
    assert int(row["amount_due"]) == amount_due_minor(stored, as_of)
    assert sum(int(v) for v in unpaid) == unpaid_due_minor(stored, as_of)
    assert stored == loan  # the repository round trip keeps every counter the properties read


def test_amount_due_is_zero_without_an_unpaid_installment_and_never_negative(engine: Engine) -> None:
    """Before the first due date nothing is due; suspense larger than what is due floors at 0."""
    product = get_product("consumer_cny_12m")
    loan = disburse(book("BAL-FLOOR", product, Money(1_200_000, "CNY"), 12, on=START).loan, START, "d").loan
    stored = _stored(engine, dataclasses.replace(loan, suspense_minor=10**9))
    first_due = stored.installments[0].due_date
    days = (first_due - timedelta(days=1), first_due)
    with engine.connect() as conn:
        found = conn.execute(select(*(sql.amount_due_minor(d) for d in days))
                             .where(loans.c.loan_id == stored.loan_id)).one()
    assert [int(v) for v in found] == [0, 0] == [amount_due_minor(stored, d) for d in days]
    assert unpaid_due_minor(stored, first_due) > 0  # something is due, but the suspense covers it
