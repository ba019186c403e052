"""verify_book on SQLite and PostgreSQL: a sound book checks clean; a loan whose counters are
tampered with is named, as `lendstack ledger verify` reports it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, update
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.services.reconcile import verify_book
from lendstack.store.tables import loans

START = date(2026, 1, 5)


def test_a_sound_book_and_a_tampered_loan(engine: Engine) -> None:
    empty = verify_book(engine)
    assert empty.ok and empty.ledger_problems == () and empty.loans.loans_checked == 0
    advance_to(engine, START)
    book_loan(engine, loan_id="R1", product="consumer_cny_12m", amount=Money(600_000, "CNY"), term=12, on=START,
              key="book-R1")
    disburse_loan(engine, "R1", START, "disb-R1")
    checked = verify_book(engine)
    assert checked.ok and checked.loans.loans_checked == 1
    with engine.begin() as conn:  # the loan's counter no longer matches its sub-ledger
        conn.execute(update(loans).where(loans.c.loan_id == "R1").values(principal_repaid_minor=1))
    tampered = verify_book(engine)
    assert not tampered.ok and tampered.ledger_problems == ()
    assert tampered.loans.loans_differing == 1 and tampered.loans.differences[0]["loan_id"] == "R1"
