"""Hand-worked servicing cases: numbers a loan officer can check with a calculator."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from lendstack.money import Money
from lendstack.products import LoanProduct, get_product
from lendstack.servicing import (
    AgingPolicy,
    FiveTier,
    Loan,
    LoanStatus,
    Outcome,
    ServicingError,
    book,
    disburse,
    eod_one,
    prepay,
    repay,
)
from lendstack.servicing.accrual import interest_target

ON = date(2026, 1, 15)
# consumer_cny_12m allows a prepayment only once 3 installments have fallen due; the prepayment
# arithmetic below is worked inside the first periods, on the product without that rule.
ANYTIME = {"mode": "reduce_installment", "min_periods_before": 0}


def product(**changes: object) -> LoanProduct:
    base = get_product("consumer_cny_12m").model_dump()
    base.update({"fees": {}, "grace_days": 0, "rate_annual": "0.12", "rate_min_annual": "0.05",
                 "rate_max_annual": "0.2", "amount_min_minor": 1_000, **changes})
    return LoanProduct.model_validate(base)


def active(prod: LoanProduct, amount_minor: int = 1_200_000, term: int = 12) -> Loan:
    loan = book("L", prod, Money(amount_minor, "CNY"), term, on=ON).loan
    return disburse(loan, ON, "d").loan


def close_to(loan: Loan, day: date) -> Outcome:
    """End of day for every day after the loan's last closed day through `day`, with its entries."""
    assert loan.accrued_through is not None
    out = Outcome(loan)
    d = loan.accrued_through + timedelta(days=1)
    while d <= day:
        out = out.then(eod_one(out.loan, d))
        d += timedelta(days=1)
    return out


def run_to(loan: Loan, day: date) -> Loan:
    return close_to(loan, day).loan


def test_accrued_interest_equals_the_scheduled_interest_on_each_due_date() -> None:
    loan = active(product())
    for inst in loan.installments[:3]:
        loan = run_to(loan, inst.due_date)
        scheduled = sum(i.interest_minor for i in loan.installments if i.due_date <= inst.due_date)
        assert loan.interest_accrued_minor == scheduled
    first = loan.installments[0]
    assert first.interest_minor == 12_000  # 12,000.00 × 1 % a month
    mid = first.period_start + timedelta(days=15)
    assert interest_target(loan, mid) == round(12_000 * 15 / 31)  # Jan 15 → Feb 15 is 31 days


def test_penalty_is_one_and_a_half_times_the_rate_on_overdue_principal_after_grace() -> None:
    loan = active(product(grace_days=3))
    due = loan.installments[0].due_date
    principal_due = loan.installments[0].principal_minor
    loan = run_to(loan, due + timedelta(days=3))
    assert loan.penalty_accrued_minor == 0 and loan.days_past_due == 3  # grace: late, but no penalty yet
    loan = run_to(loan, due + timedelta(days=4))
    # 0.12 × 1.5 = 18 % a year on the overdue principal, for one ACT/365 day, rounded half up
    assert loan.penalty_accrued_minor == round(principal_due * 0.18 / 365)
    assert loan.status is LoanStatus.OVERDUE


def test_allocation_order_is_the_products() -> None:
    late = run_to(active(product()), ON + timedelta(days=45))
    owed_interest = late.installments[0].interest_minor
    default = repay(late, ON + timedelta(days=46), Money(owed_interest, "CNY"), "p").result["paid"]
    assert default["penalty"] > 0 and default["interest"] == owed_interest - default["penalty"]
    reverse = late.evolve(terms=dataclasses.replace(late.terms, allocation_order=("principal", "interest", "fee",
                                                                                  "penalty")))
    paid = repay(reverse, ON + timedelta(days=46), Money(owed_interest, "CNY"), "p").result["paid"]
    assert paid["principal"] == owed_interest and paid["penalty"] == 0


def test_an_overpayment_waits_in_suspense_and_pays_the_next_due_date() -> None:
    loan = run_to(active(product()), ON + timedelta(days=9))
    early = repay(loan, ON + timedelta(days=10), Money(150_000, "CNY"), "early").loan
    assert early.suspense_minor == 150_000
    on_due = run_to(early, early.installments[0].due_date)
    first = on_due.installments[0]
    assert not first.is_open and on_due.days_past_due == 0
    assert on_due.suspense_minor == 150_000 - first.principal_minor - first.interest_minor


def test_prepayment_reduces_installment_or_term() -> None:
    loan = run_to(active(product(prepayment=ANYTIME)), ON + timedelta(days=40))
    loan = repay(loan, ON + timedelta(days=41), Money(200_000, "CNY"), "catch-up").loan
    day = ON + timedelta(days=50)
    loan = run_to(loan, day - timedelta(days=1))
    reduce_installment = prepay(loan, day, Money(500_000, "CNY"), "pp").loan
    open_before = [i for i in loan.installments if i.due_date > day]
    open_after = [i for i in reduce_installment.installments if i.due_date > day]
    assert len(open_after) == len(open_before)
    assert open_after[1].principal_minor + open_after[1].interest_minor < (
        open_before[1].principal_minor + open_before[1].interest_minor)
    term_loan = run_to(active(product(prepayment={"mode": "reduce_term"})), ON + timedelta(days=40))
    term_loan = repay(term_loan, ON + timedelta(days=41), Money(200_000, "CNY"), "catch-up").loan
    shorter = prepay(run_to(term_loan, day - timedelta(days=1)), day, Money(500_000, "CNY"), "pp").loan
    assert len([i for i in shorter.installments if i.due_date > day]) < len(open_before)


def test_paying_off_closes_the_loan() -> None:
    loan = run_to(active(product(fees={"prepayment_rate": "0.01"}, prepayment=ANYTIME)), ON + timedelta(days=20))
    out = prepay(loan, ON + timedelta(days=21), Money(2_000_000, "CNY"), "payoff", full=True)
    assert out.loan.status is LoanStatus.CLOSED and out.loan.principal_outstanding_minor == 0
    assert out.result["prepayment_fee_minor"] == 12_000  # 1 % of 1,200,000.00 minor units
    assert out.loan.suspense_minor > 0  # the rest is the borrower's, held in suspense


def test_a_prepayment_before_the_products_minimum_periods_is_refused_naming_on() -> None:
    loan = active(product())  # consumer_cny_12m's rule: 3 installments must have fallen due
    assert loan.terms.prepayment_min_periods == 3
    third_due = loan.installments[2].due_date
    two_due = run_to(loan, third_due - timedelta(days=2))
    with pytest.raises(ServicingError) as err:
        prepay(two_due, third_due - timedelta(days=1), Money(2_000_000, "CNY"), "pp", full=True)
    assert err.value.field == "on" and "3 installment(s)" in err.value.message and "2 have" in err.value.message
    three_due = run_to(two_due, third_due - timedelta(days=1))
    paid_off = prepay(three_due, third_due, Money(2_000_000, "CNY"), "pp", full=True).loan
    assert paid_off.status is LoanStatus.CLOSED and paid_off.principal_outstanding_minor == 0


@pytest.mark.parametrize(
    ("dpd", "bucket", "tier"),
    [(0, "M0", FiveTier.NORMAL), (1, "M1", FiveTier.SPECIAL_MENTION), (30, "M1", FiveTier.SPECIAL_MENTION),
     (31, "M2", FiveTier.SPECIAL_MENTION), (90, "M3", FiveTier.SPECIAL_MENTION), (91, "M4", FiveTier.SUBSTANDARD),
     (180, "M6", FiveTier.SUBSTANDARD), (181, "M7+", FiveTier.SUBSTANDARD), (270, "M7+", FiveTier.SUBSTANDARD),
     (271, "M7+", FiveTier.DOUBTFUL), (360, "M7+", FiveTier.DOUBTFUL), (361, "M7+", FiveTier.LOSS)],
)
def test_buckets_and_five_tier_classes_at_their_boundaries(dpd: int, bucket: str, tier: FiveTier) -> None:
    policy = AgingPolicy()
    assert policy.bucket(dpd) == bucket and policy.five_tier(dpd) is tier


def test_aging_thresholds_are_configurable() -> None:
    strict = AgingPolicy(class_lower_dpd=(1, 61, 181, 271))
    assert strict.five_tier(61) is FiveTier.SUBSTANDARD and AgingPolicy().five_tier(61) is FiveTier.SPECIAL_MENTION
