"""The stored book's EOD (columnar, chunked, on SQLite and PostgreSQL) equals the reference
one-loan path run on the same loans in memory; it resumes after a kill and is idempotent."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.ledger import apply_entries
from lendstack.money import Money
from lendstack.products import get_product
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.servicing import Loan, eod_one, expected_balances
from lendstack.servicing.loan import SUBLEDGER_CODES
from lendstack.store import UnitOfWork
from lendstack.store.tables import journal_entries

START = date(2026, 1, 5)
PRODUCTS = ["consumer_cny_12m", "micro_business_cny", "farm_seasonal_cny", "bullet_30d_cny"]
TERMS = {"consumer_cny_12m": 12, "micro_business_cny": 12, "farm_seasonal_cny": 6, "bullet_30d_cny": 1}


def book_sample(engine: Engine, n: int, seed: int = 3) -> list[str]:
    """Loans T0000.. booked and disbursed over START..START+19, each on its day: the book's
    business date is driven forward by end of day (hooks off) between booking days."""
    rng = random.Random(seed)
    plan = []
    for k in range(n):
        product = PRODUCTS[k % len(PRODUCTS)]
        on = START + timedelta(days=rng.randrange(0, 20))
        spec = get_product(product)
        amount_minor = rng.randrange(spec.amount_min_minor, min(spec.amount_max_minor, spec.amount_min_minor * 20))
        plan.append((on, k, product, amount_minor))
    for on, k, product, amount_minor in sorted(plan):
        advance_to(engine, on)
        loan_id = f"T{k:04d}"
        book_loan(engine, loan_id=loan_id, product=product, amount=Money(amount_minor, "CNY"),
                  term=TERMS[product], on=on, key=f"book-{k}")
        disburse_loan(engine, loan_id, on, f"disb-{k}")
    return [f"T{k:04d}" for k in range(n)]


def reference(loans: list[Loan], through: date) -> list[Loan]:
    out = []
    for loan in loans:
        assert loan.accrued_through is not None
        day = loan.accrued_through + timedelta(days=1)
        while day <= through:
            loan = eod_one(loan, day).loan
            day += timedelta(days=1)
        out.append(loan)
    return out


def test_stored_eod_equals_reference_and_ledger_agrees(engine: Engine) -> None:
    ids = book_sample(engine, 24)
    before = [get_loan(engine, i) for i in ids]
    # A late payer pays part of what it owes mid-way, through the service layer, both sides.
    through = START + timedelta(days=75)
    run_eod(engine, START + timedelta(days=40))
    repay_loan(engine, ids[1], START + timedelta(days=41), Money(150_000, "CNY"), "late-pay")
    run_eod(engine, through, chunk_loans=7)
    mid = reference(before, START + timedelta(days=40))
    from lendstack.servicing import repay

    mid[1] = repay(mid[1], START + timedelta(days=41), Money(150_000, "CNY"), "late-pay").loan
    expected = reference(mid, through)
    stored = [get_loan(engine, i) for i in ids]
    assert stored == expected
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        trial = uow.ledger.trial_balance()
        assert sum(v for (cur, _c), v in trial.items() if cur == "CNY") == 0
        for loan in stored:
            assert uow.ledger.balances_for_loan(loan.loan_id) | {} == _with_income(uow, loan)
    assert any(loan.days_past_due > 0 for loan in stored)  # the book has overdue loans to age


def _with_income(uow: UnitOfWork, loan: Loan) -> dict:  # type: ignore[type-arg]
    stored = uow.ledger.balances_for_loan(loan.loan_id)
    expected = expected_balances(loan)
    # The loan's sub-ledger (receivables, suspense, memo); its loss allowance (1304, per loan since
    # the month-end provision hooks run) is the provision's, not the loan's counters'.
    receivables = {k: v for k, v in stored.items() if k in expected or k.code in SUBLEDGER_CODES}
    assert {k: v for k, v in receivables.items() if v} == expected
    ref = apply_entries({}, uow.ledger.entries_for_loan(loan.loan_id))
    assert ref == {k: v for k, v in stored.items() if v}
    return stored


def test_eod_resumes_after_a_kill_and_is_idempotent(engine: Engine) -> None:
    book_sample(engine, 12, seed=5)
    target = START + timedelta(days=35)
    ids = [f"T{k:04d}" for k in range(12)]
    before = [get_loan(engine, i) for i in ids]
    partial = run_eod(engine, target, chunk_loans=5, max_chunks=2)  # "killed" after two chunks
    assert 0 < partial.loans_closed <= 10
    with UnitOfWork(engine) as uow:
        behind = uow.loans.closed_through()
        assert behind is not None and behind < target  # work was left undone
    run_eod(engine, target, chunk_loans=5)
    assert [get_loan(engine, i) for i in ids] == reference(before, target)
    with engine.connect() as conn:
        entries_once = conn.execute(select(func.count()).select_from(journal_entries)).scalar()
    again = run_eod(engine, target)
    assert again.loans_closed == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(journal_entries)).scalar() == entries_once
    with UnitOfWork(engine) as uow:
        assert uow.loans.closed_through() == target
        assert uow.ledger.verify() == []
