"""The refund service on SQLite and PostgreSQL: idempotent by key, all-or-nothing, the ledger stays
verified, bad input names its field and writes nothing, closed days take no refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.book_dates import advance_to
from tests.services.test_services_loans import ON, active_loan, counts, prepay_anytime

from lendstack.ledger import AccountCode
from lendstack.money import Money, MoneyError
from lendstack.services.business_date import business_date
from lendstack.services.eod import run_eod
from lendstack.services.loans import get_loan, prepay_loan, refund_loan, repay_loan
from lendstack.servicing import LoanStatus, ServicingError, expected_balances
from lendstack.store import IdempotencyConflict, UnitOfWork
from lendstack.store.tables import outbox

OVERPAID_MINOR = 50_000


def overpaid_loan(engine: Engine, loan_id: str = "L1") -> str:
    active_loan(engine, loan_id)
    advance_to(engine, ON + timedelta(days=3))
    repay_loan(engine, loan_id, ON + timedelta(days=3), Money(OVERPAID_MINOR, "CNY"), f"over-{loan_id}")
    assert get_loan(engine, loan_id).suspense_minor == OVERPAID_MINOR
    return loan_id


def closed_loan(engine: Engine, loan_id: str = "L1") -> str:
    """Paid off on ON + 20, in its first period (a product without a minimum before prepayment)."""
    active_loan(engine, loan_id, product=prepay_anytime())
    advance_to(engine, ON + timedelta(days=20))
    paid_off = prepay_loan(engine, loan_id, ON + timedelta(days=20), Money(13_000_00, "CNY"), "payoff", full=True)
    assert paid_off["status"] == LoanStatus.CLOSED.value and paid_off["suspense_minor"] > 0
    return loan_id


def assert_books(engine: Engine, loan_id: str) -> None:
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        loan = uow.loans.get(loan_id)
        ledger = {k: v for k, v in uow.ledger.balances_for_loan(loan_id).items() if v}
    keep = {AccountCode.LOAN_PRINCIPAL, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE,
            AccountCode.PENALTY_RECEIVABLE, AccountCode.SUSPENSE}
    assert {k: v for k, v in ledger.items() if k.code in keep} == expected_balances(loan)


def test_a_closed_loans_overpayment_is_paid_back_once(engine: Engine) -> None:
    loan_id = closed_loan(engine)
    held = get_loan(engine, loan_id).suspense_minor
    on = ON + timedelta(days=40)
    advance_to(engine, on)
    first = refund_loan(engine, loan_id, on, Money(held, "CNY"), "refund-1")
    assert first["suspense_minor"] == 0 and first["refunded_minor"] == held and first["status"] == "closed"
    before = counts(engine)
    again = refund_loan(engine, loan_id, on, Money(held, "CNY"), "refund-1")
    assert again == first and counts(engine) == before  # nothing written twice
    assert get_loan(engine, loan_id).suspense_minor == 0
    assert_books(engine, loan_id)
    with engine.connect() as conn:
        types = [r[0] for r in conn.execute(select(outbox.c.event_type).where(outbox.c.aggregate_id == loan_id))]
    assert types.count("loan.refunded") == 1


def test_same_key_with_another_body_is_refused_naming_the_key(engine: Engine) -> None:
    loan_id = overpaid_loan(engine)
    advance_to(engine, ON + timedelta(days=4))
    refund_loan(engine, loan_id, ON + timedelta(days=4), Money(10_000, "CNY"), "refund-1")
    before = counts(engine)
    with pytest.raises(IdempotencyConflict) as err:
        refund_loan(engine, loan_id, ON + timedelta(days=4), Money(20_000, "CNY"), "refund-1")
    assert err.value.field == "idempotency_key"
    assert counts(engine) == before
    assert get_loan(engine, loan_id).suspense_minor == OVERPAID_MINOR - 10_000
    assert_books(engine, loan_id)


def test_a_key_used_for_a_repayment_is_its_own_scope(engine: Engine) -> None:
    loan_id = overpaid_loan(engine)
    advance_to(engine, ON + timedelta(days=4))
    result = refund_loan(engine, loan_id, ON + timedelta(days=4), Money(1, "CNY"), f"over-{loan_id}")
    assert result["suspense_minor"] == OVERPAID_MINOR - 1  # "loan.refund" keys do not collide with "loan.repay"


def _refund(amount_minor: int, currency: str = "CNY", days: int = 4, loan_id: str = "L1", key: str = "k") -> Any:
    return lambda e: refund_loan(e, loan_id, ON + timedelta(days=days), Money(amount_minor, currency), key)


BAD: list[tuple[str, Any, str]] = [
    ("one unit more than suspense", _refund(OVERPAID_MINOR + 1), "amount_minor"),
    ("zero", _refund(0), "amount_minor"),
    ("negative", _refund(-1), "amount_minor"),
    ("other currency", _refund(100, "USD"), "currency"),
    ("a day already closed", _refund(100, days=2), "on"),
    ("a day end of day has not reached", _refund(100, days=5), "on"),
    ("before disbursement", _refund(100, days=-1), "on"),
    ("unknown loan", _refund(100, loan_id="nope"), "loan_id"),
    ("empty key", _refund(100, key=""), "idempotency_key"),
]


@pytest.mark.parametrize(("case", "call", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_changes_nothing(engine: Engine, case: str, call: Any, field: str) -> None:
    overpaid_loan(engine)
    advance_to(engine, ON + timedelta(days=4))  # the business date the cases are dated on (days=4)
    before = counts(engine)
    with pytest.raises((ServicingError, MoneyError)) as err:
        call(engine)
    assert err.value.field == field, (case, err.value)
    assert counts(engine) == before
    assert get_loan(engine, "L1").suspense_minor == OVERPAID_MINOR


def test_refunding_exactly_the_suspense_leaves_zero_and_more_is_refused(engine: Engine) -> None:
    loan_id = overpaid_loan(engine)
    advance_to(engine, ON + timedelta(days=4))
    refund_loan(engine, loan_id, ON + timedelta(days=4), Money(OVERPAID_MINOR, "CNY"), "all")
    advance_to(engine, ON + timedelta(days=5))
    before = counts(engine)
    with pytest.raises(ServicingError) as err:
        refund_loan(engine, loan_id, ON + timedelta(days=5), Money(1, "CNY"), "one-more")
    assert err.value.field == "amount_minor" and "suspense balance of 0" in err.value.message
    assert counts(engine) == before
    assert_books(engine, loan_id)


def test_a_closed_loan_takes_no_refund_in_a_day_end_of_day_has_closed(engine: Engine) -> None:
    active_loan(engine, "L2")  # a live loan the book keeps closing days for after L1 closed
    loan_id = closed_loan(engine)
    book_day = ON + timedelta(days=60)
    run_eod(engine, book_day)
    before = counts(engine)
    with pytest.raises(ServicingError) as err:
        refund_loan(engine, loan_id, book_day, Money(1, "CNY"), "late")
    assert err.value.field == "on" and str(book_day) in err.value.message
    assert counts(engine) == before
    assert refund_loan(engine, loan_id, book_day + timedelta(days=1), Money(1, "CNY"), "late")["status"] == "closed"


def test_a_refund_dated_ahead_is_refused_and_end_of_day_lets_suspense_pay_first(engine: Engine) -> None:
    """A refund dated after the business date used to close the missing days itself; now it is
    refused naming `on` and writes nothing (no day is closed). After end of day through the due
    date, suspense has paid the first installment and only what is left can be refunded."""
    loan_id = overpaid_loan(engine)
    repay_loan(engine, loan_id, ON + timedelta(days=3), Money(200_000, "CNY"), "more")
    held = OVERPAID_MINOR + 200_000
    loan = get_loan(engine, loan_id)
    first = loan.installments[0]
    on = first.due_date + timedelta(days=1)
    before = counts(engine)
    with pytest.raises(ServicingError) as ahead:
        refund_loan(engine, loan_id, on, Money(1, "CNY"), "ahead")
    assert ahead.value.field == "on" and "run end of day" in ahead.value.message
    assert counts(engine) == before and get_loan(engine, loan_id) == loan  # refused: no day was closed either
    assert business_date(engine) == ON + timedelta(days=3)
    advance_to(engine, on)
    before = counts(engine)
    with pytest.raises(ServicingError) as err:  # by `on`, suspense has paid the first installment
        refund_loan(engine, loan_id, on, Money(held, "CNY"), "ahead")
    assert err.value.field == "amount_minor"
    assert counts(engine) == before
    result = refund_loan(engine, loan_id, on, Money(1, "CNY"), "ahead-2")
    after = get_loan(engine, loan_id)
    assert after.accrued_through == first.due_date and not after.installments[0].is_open
    left = held - (first.principal_minor + first.interest_minor + first.fee_minor) - 1
    assert result["suspense_minor"] == after.suspense_minor == left > 0
    assert f"balance of {left + 1} minor units" in err.value.message
    assert_books(engine, loan_id)
