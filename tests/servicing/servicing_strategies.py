"""Hypothesis strategies and drivers shared by the servicing tests: random products, random
books and random sequences of servicing commands."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from lendstack.ledger import BalanceKey, JournalEntry, apply_entries
from lendstack.money import Money
from lendstack.products import LoanProduct
from lendstack.servicing import (
    DEFAULT_AGING,
    AgingPolicy,
    Loan,
    Outcome,
    ServicingError,
    book,
    disburse,
    eod_one,
    prepay,
    repay,
    write_off,
)

START = date(2026, 1, 1)

METHODS = ["equal_installment", "equal_principal", "interest_only", "bullet"]
ORDERS = [
    ("penalty", "fee", "interest", "principal"),
    ("principal", "interest", "fee", "penalty"),
    ("interest", "principal", "penalty", "fee"),
]


@st.composite
def products(draw: st.DrawFn) -> LoanProduct:
    method = draw(st.sampled_from(METHODS))
    rate_ppm = draw(st.integers(10_000, 239_000))
    rate = Decimal(rate_ppm) / 1_000_000
    return LoanProduct.model_validate({
        "product_id": "prop",
        "name_en": "Property product",
        "name_zh": "测试产品",
        "currency": "CNY",
        "amount_min_minor": 1_000,
        "amount_max_minor": 10**10,
        "term_min": 1,
        "term_max": 12,
        "frequency": draw(st.sampled_from(["monthly", "monthly", "biweekly", "weekly"])),
        "schedule_method": method,
        "rate_annual": str(rate),
        "rate_min_annual": "0",
        "rate_max_annual": "0.24",
        "day_count": draw(st.sampled_from(["ACT/365F", "ACT/360", "30/360"])),
        "rounding": draw(st.sampled_from(["half_up", "half_even", "down", "up"])),
        "fees": {"periodic_rate": draw(st.sampled_from(["0", "0", "0.001"])),
                 "prepayment_rate": draw(st.sampled_from(["0", "0.01", "0.02"]))},
        "penalty": {"multiplier": draw(st.sampled_from(["1", "1.5", "2"])),
                    "accrue_on_interest": draw(st.booleans())},
        "grace_days": draw(st.integers(0, 5)),
        "allocation_order": list(draw(st.sampled_from(ORDERS))),
        "prepayment": {"mode": draw(st.sampled_from(["reduce_installment", "reduce_term"]))},
        "rate_cap_apr": "1",
    })


@st.composite
def new_loans(draw: st.DrawFn, loan_id: str) -> Loan:
    product = draw(products())
    amount_minor = draw(st.integers(10_000, 50_000_000))
    term = 1 if product.schedule_method == "bullet" else draw(st.integers(1, 12))
    on = START + timedelta(days=draw(st.integers(0, 40)))
    loan = book(loan_id, product, Money(amount_minor, "CNY"), term, on=on).loan
    return disburse(loan, on, "d").loan


# One action per loan per day: (kind, fraction of what is due in per-mille).
actions = st.lists(
    st.tuples(st.sampled_from(["none", "none", "none", "repay", "prepay", "write_off"]), st.integers(1, 2000)),
    min_size=1, max_size=1,
)


def try_command(loan: Loan, day: date, kind: str, permille: int, key: str) -> Outcome | None:
    """Apply a random command; a refusal (ServicingError) is a valid outcome that changes nothing."""
    if not loan.is_live or loan.accrued_through is None or day <= loan.accrued_through:
        return None
    installment_minor = max(1, loan.principal_minor // max(loan.term, 1))
    amount = Money(max(1, installment_minor * permille // 1000), loan.currency)
    try:
        if kind == "repay":
            return repay(loan, day, amount, key)
        if kind == "prepay":
            return prepay(loan, day, amount, key)
        if kind == "write_off" and permille < 40:
            return write_off(loan, day, key)
    except ServicingError:
        return None
    return None


def ledger_of(entries: list[JournalEntry]) -> dict[BalanceKey, int]:
    return apply_entries({}, entries)


def loan_balances(balances: dict[BalanceKey, int], loan_id: str) -> dict[BalanceKey, int]:
    """The loan's sub-ledger balances: receivables, suspense, unearned and memo (income, expense,
    cash and the allowance are the other side)."""
    from lendstack.servicing.loan import SUBLEDGER_CODES

    keep = set(SUBLEDGER_CODES)
    out: dict[BalanceKey, int] = defaultdict(int)
    for key, amount in balances.items():
        if key.loan_id == loan_id and key.code in keep and amount:
            out[key] += amount
    return dict(out)


def close_days(loan: Loan, entries: list[JournalEntry], day: date, aging: AgingPolicy = DEFAULT_AGING) -> Loan:
    """End of day (the reference) for every day after the loan's last closed day through `day`; the
    entries are appended to `entries`."""
    assert loan.accrued_through is not None
    d = loan.accrued_through + timedelta(days=1)
    while d <= day:
        out = eod_one(loan, d, aging)
        loan, d = out.loan, d + timedelta(days=1)
        entries += out.entries
    return loan
