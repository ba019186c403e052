"""DemoRepository on SQLite and PostgreSQL: the demo's cheap reads agree with the loaded loan."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.servicing.balances import amount_due_minor
from lendstack.store.demo_repo import AmountDue, DemoRepository, LoanAge

START = date(2026, 1, 5)


def _book(engine: Engine) -> None:
    advance_to(engine, START)
    book_loan(engine, loan_id="D1", product="consumer_cny_12m", amount=Money(1_200_000, "CNY"), term=12, on=START,
              key="book-D1")
    disburse_loan(engine, "D1", START, "disb-D1")


def test_an_empty_database_holds_no_book(engine: Engine) -> None:
    with engine.connect() as conn:
        repo = DemoRepository(conn)
        assert not repo.book_exists()
        assert repo.decision_mix() == {}
        assert repo.non_accrual_live_loans() == 0


def test_reads_agree_with_the_loaded_loan(engine: Engine) -> None:
    _book(engine)
    first_due = get_loan(engine, "D1").installments[0].due_date
    advance_to(engine, first_due + timedelta(days=10))  # the first installment is ten days late
    loan = get_loan(engine, "D1")
    with engine.connect() as conn:
        repo = DemoRepository(conn)
        assert repo.book_exists()
        assert repo.loan_age("D1") == LoanAge(loan.status.value, loan.days_past_due)
        assert loan.days_past_due > 0
        for as_of in (START, first_due - timedelta(days=1), first_due, first_due + timedelta(days=9)):
            assert repo.amount_due("D1", as_of) == AmountDue(amount_due_minor(loan, as_of), "CNY"), as_of
        owed = repo.amount_due("D1", first_due).amount_minor
    assert owed > 0
    repay_loan(engine, "D1", None, Money(owed, "CNY"), "pay-1")  # dated on the business date
    loan = get_loan(engine, "D1")
    with engine.connect() as conn:
        repo = DemoRepository(conn)
        assert repo.amount_due("D1", first_due) == AmountDue(amount_due_minor(loan, first_due), "CNY")
        assert repo.loan_age("D1") == LoanAge(loan.status.value, loan.days_past_due)
