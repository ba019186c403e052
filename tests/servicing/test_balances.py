"""servicing.balances: the amount due of a loan on a day (its SQL twin is checked against it in
tests/store/test_balance_sql.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from lendstack.money import Money
from lendstack.products import get_product
from lendstack.servicing import Loan, book, disburse
from lendstack.servicing.balances import amount_due_minor, unpaid_due_minor
from tests.servicing.servicing_strategies import START


def _loan() -> Loan:
    product = get_product("consumer_cny_12m")
    return disburse(book("AD1", product, Money(1_200_000, "CNY"), 12, on=START).loan, START, "d").loan


def test_nothing_is_due_before_the_first_due_date() -> None:
    loan = _loan()
    first = loan.installments[0]
    assert unpaid_due_minor(loan, first.due_date - timedelta(days=1)) == 0
    assert amount_due_minor(loan, first.due_date - timedelta(days=1)) == 0


def test_the_amount_due_is_the_unpaid_installments_plus_penalty_less_suspense_never_negative() -> None:
    loan = _loan()
    first, second = loan.installments[:2]
    billed = first.principal_minor + first.interest_minor + first.fee_minor
    assert unpaid_due_minor(loan, first.due_date) == billed == amount_due_minor(loan, first.due_date)
    assert unpaid_due_minor(loan, second.due_date) == billed + second.principal_minor + second.interest_minor \
        + second.fee_minor
    held = dataclasses.replace(loan, suspense_minor=100)
    assert amount_due_minor(held, first.due_date) == billed - 100
    assert amount_due_minor(dataclasses.replace(loan, suspense_minor=billed * 10), first.due_date) == 0
