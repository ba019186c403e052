"""Service layer: idempotent commands, and bad input that names its field and writes nothing —
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.money import Money, MoneyError
from lendstack.products import LoanProduct, get_product
from lendstack.services.business_date import business_date
from lendstack.services.eod import run_eod
from lendstack.services.loans import (
    book_loan,
    disburse_loan,
    get_loan,
    prepay_loan,
    repay_loan,
    restructure_loan,
    write_off_loan,
)
from lendstack.servicing import LoanStatus, ServicingError
from lendstack.store import IdempotencyConflict, UnitOfWork
from lendstack.store.tables import (
    book_state,
    idempotency_keys,
    installments,
    journal_entries,
    loan_commands,
    loans,
    outbox,
    postings,
)

ON = date(2026, 3, 10)  # the book opens on it: the first command (booking) is dated ON
TABLES = (loans, installments, journal_entries, postings, outbox, idempotency_keys, loan_commands, book_state)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in TABLES}


def prepay_anytime() -> LoanProduct:
    """consumer_cny_12m without its rule that 3 installments fall due before a prepayment: for
    tests that pay a loan off in its first period."""
    base = get_product("consumer_cny_12m")
    return base.model_copy(update={"product_id": "consumer_cny_12m_prepay_anytime",
                                   "prepayment": base.prepayment.model_copy(update={"min_periods_before": 0})})


def active_loan(engine: Engine, loan_id: str = "L1", amount_minor: int = 12_000_00,
                product: LoanProduct | str = "consumer_cny_12m") -> str:
    book_loan(engine, loan_id=loan_id, product=product, amount=Money(amount_minor, "CNY"), term=12,
              on=ON, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    return loan_id


def test_retry_returns_the_first_result_and_posts_nothing_twice(engine: Engine) -> None:
    loan_id = active_loan(engine)
    advance_to(engine, ON + timedelta(days=3))
    first = repay_loan(engine, loan_id, ON + timedelta(days=3), Money(50_000, "CNY"), "pay-1")
    before = counts(engine)
    again = repay_loan(engine, loan_id, ON + timedelta(days=3), Money(50_000, "CNY"), "pay-1")
    assert again == first
    assert counts(engine) == before
    assert get_loan(engine, loan_id).suspense_minor == 50_000
    advance_to(engine, ON + timedelta(days=4))  # a retry after end of day moved the book still replays
    assert repay_loan(engine, loan_id, ON + timedelta(days=3), Money(50_000, "CNY"), "pay-1") == first


def test_same_key_with_another_body_is_refused(engine: Engine) -> None:
    loan_id = active_loan(engine)
    advance_to(engine, ON + timedelta(days=3))
    repay_loan(engine, loan_id, ON + timedelta(days=3), Money(50_000, "CNY"), "pay-1")
    before = counts(engine)
    with pytest.raises(IdempotencyConflict) as err:
        repay_loan(engine, loan_id, ON + timedelta(days=3), Money(60_000, "CNY"), "pay-1")
    assert err.value.field == "idempotency_key"
    assert counts(engine) == before


# Dated on the business date (ON, the day L1 was booked and disbursed) unless the case is the date.
BAD: list[tuple[str, Any, str]] = [
    ("non-positive amount", lambda e: repay_loan(e, "L1", ON, Money(0, "CNY"), "k"), "amount"),
    ("negative amount", lambda e: repay_loan(e, "L1", ON, Money(-5, "CNY"), "k"), "amount"),
    ("mismatched currency", lambda e: repay_loan(e, "L1", ON, Money(100, "USD"), "k"), "currency"),
    ("date before disbursement", lambda e: repay_loan(e, "L1", ON - timedelta(days=1), Money(100, "CNY"), "k"),
     "on"),
    ("date after the business date", lambda e: repay_loan(e, "L1", ON + timedelta(days=1), Money(100, "CNY"), "k"),
     "on"),
    ("unknown loan", lambda e: repay_loan(e, "nope", ON, Money(100, "CNY"), "k"), "loan_id"),
    ("unknown product", lambda e: book_loan(e, loan_id="L2", product="no_such", amount=Money(10**6, "CNY"), term=12,
                                            on=ON, key="k"), "product_id"),
    ("amount below product range", lambda e: book_loan(e, loan_id="L2", product="consumer_cny_12m",
                                                       amount=Money(1, "CNY"), term=12, on=ON, key="k"),
     "amount_minor"),
    ("term outside product range", lambda e: book_loan(e, loan_id="L2", product="consumer_cny_12m",
                                                       amount=Money(10**6, "CNY"), term=99, on=ON, key="k"), "term"),
    ("rate above the legal cap", lambda e: book_loan(e, loan_id="L2", product="consumer_cny_12m",
                                                     amount=Money(10**6, "CNY"), term=12, on=ON, key="k",
                                                     rate_annual="0.36"), "rate_annual"),
    ("duplicate loan id", lambda e: book_loan(e, loan_id="L1", product="consumer_cny_12m",
                                              amount=Money(10**6, "CNY"), term=12, on=ON, key="k-dup"), "loan_id"),
    ("prepay too small", lambda e: prepay_loan(e, "LP", ON, Money(1, "CNY"), "k"), "amount"),
    ("prepay before 3 installments fell due", lambda e: prepay_loan(e, "L1", ON, Money(13_000_00, "CNY"), "k",
                                                                    full=True), "on"),
    ("disburse twice", lambda e: disburse_loan(e, "L1", ON, "k-again"), "status"),
    ("empty idempotency key", lambda e: repay_loan(e, "L1", ON, Money(100, "CNY"), ""), "idempotency_key"),
]


@pytest.mark.parametrize(("case", "call", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_changes_nothing(engine: Engine, case: str, call: Any, field: str) -> None:
    active_loan(engine)
    active_loan(engine, "LP", product=prepay_anytime())  # a product that lets a loan prepay from its first day
    assert business_date(engine) == ON
    before = counts(engine)
    with pytest.raises((ServicingError, MoneyError)) as err:
        call(engine)
    assert err.value.field == field, (case, err.value)
    assert counts(engine) == before


def test_repayment_on_a_closed_loan_is_refused(engine: Engine) -> None:
    loan_id = active_loan(engine, product=prepay_anytime())
    advance_to(engine, ON + timedelta(days=20))
    paid_off = prepay_loan(engine, loan_id, ON + timedelta(days=20), Money(13_000_00, "CNY"), "payoff", full=True)
    assert paid_off["status"] == LoanStatus.CLOSED.value
    advance_to(engine, ON + timedelta(days=21))
    before = counts(engine)
    with pytest.raises(ServicingError) as err:
        repay_loan(engine, loan_id, ON + timedelta(days=21), Money(100, "CNY"), "late")
    assert err.value.field == "status"
    assert counts(engine) == before


def test_a_day_closed_by_eod_takes_no_back_dated_command(engine: Engine) -> None:
    loan_id = active_loan(engine)
    run_eod(engine, ON + timedelta(days=5))
    before = counts(engine)
    with pytest.raises(ServicingError) as err:
        repay_loan(engine, loan_id, ON + timedelta(days=5), Money(100, "CNY"), "back-dated")
    assert err.value.field == "on"
    assert counts(engine) == before


def test_restructure_and_write_off_keep_the_books_balanced(engine: Engine) -> None:
    loan_id = active_loan(engine)
    run_eod(engine, ON + timedelta(days=70))  # two installments missed
    overdue = get_loan(engine, loan_id)
    assert overdue.status is LoanStatus.OVERDUE and overdue.penalty_receivable_minor > 0
    result = restructure_loan(engine, loan_id, ON + timedelta(days=71), 18, "restructure-1")
    assert result["capitalized_minor"] > 0 and result["status"] == "active"
    restructured = get_loan(engine, loan_id)
    assert restructured.restructure_count == 1
    assert sum(1 for i in restructured.installments if i.capitalized) >= 2  # history kept, marked
    run_eod(engine, ON + timedelta(days=200))
    write_off_loan(engine, loan_id, ON + timedelta(days=201), "wo-1")
    final = get_loan(engine, loan_id)
    assert final.status is LoanStatus.WRITTEN_OFF and final.principal_outstanding_minor == 0
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        assert {k: v for k, v in uow.ledger.balances_for_loan(loan_id).items()
                if k.code.value in ("1301", "1311", "1312", "1313")} == {}
    run_eod(engine, ON + timedelta(days=230))  # a written-off loan is out of EOD
    assert get_loan(engine, loan_id) == final
