"""Prepayment: an upfront fee is never lost, the product's minimum periods are enforced, due dates
keep the contract's day of month, a multi-period bullet can be prepaid, and errors name the
user's fields."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lendstack.ledger import AccountCode, JournalEntry, apply_entries
from lendstack.money import Money
from lendstack.products import LoanProduct, get_product
from lendstack.servicing import Loan, LoanStatus, ServicingError, book, disburse, expected_balances, prepay
from lendstack.servicing.loan import SUBLEDGER_CODES
from tests.servicing.servicing_strategies import close_days as run_to

A = AccountCode


def start(product: LoanProduct, amount_minor: int, term: int, on: date) -> tuple[Loan, list[JournalEntry]]:
    out = disburse(book("L", product, Money(amount_minor, product.currency), term, on=on).loan, on, "d")
    return out.loan, list(out.entries)




def fee_income(entries: list[JournalEntry]) -> int:
    return -sum(p.amount_minor for e in entries for p in e.postings if p.code is A.FEE_INCOME)


def multi_period_bullet() -> LoanProduct:
    base = get_product("bullet_30d_cny").model_dump()
    base.update({"product_id": "bullet_6m", "term_min": 1, "term_max": 12})
    return LoanProduct.model_validate(base)


def test_a_bullet_paid_off_inside_its_only_period_still_pays_its_upfront_fee() -> None:
    product = get_product("bullet_30d_cny")  # 0.2 % upfront: 20.00 on 10,000.00
    on = date(2026, 3, 2)
    loan, entries = start(product, 1_000_000, 1, on)
    assert loan.upfront_fee_minor == 2_000
    loan = run_to(loan, entries, on + timedelta(days=9))
    with pytest.raises(ServicingError) as err:  # the payoff quoted includes the fee
        prepay(loan, on + timedelta(days=10), Money(1_000_000, "CNY"), "too-small", full=True)
    assert err.value.field == "amount"
    out = prepay(loan, on + timedelta(days=10), Money(1_100_000, "CNY"), "payoff", full=True)
    entries += out.entries
    assert out.loan.status is LoanStatus.CLOSED
    assert out.result["upfront_fee_billed_minor"] == 2_000
    assert fee_income(entries) == 2_000  # billed and paid: never lost
    assert out.loan.fee_charged_minor == out.loan.fee_paid_minor == 2_000
    sub = {k: v for k, v in apply_entries({}, entries).items() if k.code in SUBLEDGER_CODES}
    assert sub == expected_balances(out.loan)


def test_a_partial_prepayment_in_the_first_period_bills_the_upfront_fee_once() -> None:
    product = get_product("usd_personal")  # 3 % origination fee, no minimum periods
    on = date(2026, 2, 10)
    loan, entries = start(product, 1_000_000, 12, on)
    fee = loan.upfront_fee_minor
    assert fee == 30_000
    loan = run_to(loan, entries, on + timedelta(days=14))
    out = prepay(loan, on + timedelta(days=15), Money(300_000, "USD"), "pp")
    entries += out.entries
    assert out.result["upfront_fee_billed_minor"] == fee and fee_income(entries) == fee
    # Later installments carry only their periodic fee (none here): the upfront fee is not billed again.
    assert all(i.fee_minor == 0 for i in out.loan.installments if i.due_date > on + timedelta(days=15))
    # The rebuilt schedule keeps the contract's due dates: the 10th of each month.
    assert {i.due_date.day for i in out.loan.installments if i.due_date > on + timedelta(days=15)} == {10}


def test_the_products_minimum_periods_before_prepayment_is_enforced_naming_on() -> None:
    product = get_product("consumer_cny_12m")  # min_periods_before: 3
    on = date(2026, 1, 15)
    loan, entries = start(product, 1_200_000, 12, on)
    second_due = loan.installments[1].due_date
    loan = run_to(loan, entries, second_due + timedelta(days=4))
    # (pay what is due first: the two installments)
    from lendstack.servicing import repay
    due = sum(i.principal_minor + i.interest_minor for i in loan.installments[:2])
    paid = repay(loan, second_due + timedelta(days=5), Money(due + loan.penalty_receivable_minor, "CNY"), "catch-up")
    with pytest.raises(ServicingError) as err:
        prepay(run_to(paid.loan, entries, second_due + timedelta(days=5)), second_due + timedelta(days=6),
               Money(500_000, "CNY"), "early")
    assert err.value.field == "on" and "3" in err.value.message
    third_due = loan.installments[2].due_date
    later = run_to(paid.loan, entries, third_due)
    later = repay(later, third_due + timedelta(days=1), Money(later.installments[2].principal_minor
                                                               + later.installments[2].interest_minor
                                                               + later.penalty_receivable_minor, "CNY"), "third")
    ok = prepay(run_to(later.loan, entries, third_due + timedelta(days=1)), third_due + timedelta(days=2),
                Money(500_000, "CNY"), "allowed")
    assert ok.result["principal_prepaid_minor"] > 0


def test_due_dates_stay_on_month_ends_after_a_prepayment() -> None:
    product = get_product("consumer_cny_12m").model_copy(
        update={"prepayment": get_product("consumer_cny_12m").prepayment.model_copy(update={"min_periods_before": 0})})
    on = date(2026, 1, 31)
    loan, entries = start(product, 1_200_000, 12, on)
    assert [i.due_date for i in loan.installments[:3]] == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    loan = run_to(loan, entries, date(2026, 2, 9))
    out = prepay(loan, date(2026, 2, 10), Money(400_000, "CNY"), "pp")
    later = [i.due_date for i in out.loan.installments if i.due_date > date(2026, 2, 10)]
    assert later[:4] == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]
    assert later[-1] == date(2027, 1, 31)  # reduce_installment keeps the maturity


def test_a_multi_period_bullet_can_be_prepaid_in_part_and_in_full() -> None:
    product = multi_period_bullet()
    on = date(2026, 1, 20)
    loan, entries = start(product, 2_000_000, 6, on)
    assert len(loan.installments) == 1 and loan.installments[0].due_date == date(2026, 7, 20)
    loan = run_to(loan, entries, on + timedelta(days=40))
    part = prepay(loan, on + timedelta(days=41), Money(500_000, "CNY"), "part")
    entries += part.entries
    rest = [i for i in part.loan.installments if i.due_date > on + timedelta(days=41)]
    assert len(rest) == 1 and rest[0].due_date == date(2026, 7, 20)
    assert rest[0].principal_minor == 2_000_000 - part.result["principal_prepaid_minor"]
    # Simple interest on what is left, from the prepayment to maturity: 1,500,000-ish × 18 % × 140/365
    days = (date(2026, 7, 20) - (on + timedelta(days=41))).days
    assert abs(rest[0].interest_minor - rest[0].principal_minor * product.rate_annual * days / 365) <= 1
    done = prepay(run_to(part.loan, entries, on + timedelta(days=41)), on + timedelta(days=42),
                  Money(3_000_000, "CNY"), "full", full=True)
    assert done.loan.status is LoanStatus.CLOSED


def test_prepayment_errors_name_the_users_fields_never_internal_ones() -> None:
    loan, entries = start(multi_period_bullet(), 2_000_000, 6, date(2026, 1, 20))
    loan = run_to(loan, entries, date(2026, 2, 1))
    with pytest.raises(ServicingError) as err:
        prepay(loan, date(2026, 2, 2), Money(1, "CNY"), "tiny")
    assert err.value.field == "amount"
    with pytest.raises(ServicingError) as err:
        prepay(loan, date(2026, 2, 9), Money(500_000, "CNY"), "ahead")
    assert err.value.field == "on"
    assert "first_due_date" not in err.value.message
