"""A quick sample book for tests: loans booked directly (no applications or decisions), run day by
day with seeded repayment behaviour and daily end of day.

Test code, not product (issue 14 item 6): the product's demo is `services.demo.run_business`. This
was `services.demo.run_demo`; the monitoring and ECL tests use it for a small live book fast.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine

from lendstack.money import Money
from lendstack.products import LoanProduct, load_catalog
from lendstack.services.demo import DAYS_MAX, WRITE_OFF_DPD, may_prepay
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, prepay_loan, repay_loan, write_off_loan
from lendstack.servicing import Loan, ServicingError
from lendstack.servicing.balances import amount_due_minor

SAMPLE_START = date(2025, 11, 1)
BEHAVIOURS = (("on_time", 0.78), ("late", 0.12), ("prepayer", 0.05), ("defaulter", 0.05))


@dataclass
class Borrower:
    loan_id: str
    behaviour: str
    disburse_on: date
    late_days: int
    stop_after: int  # installments a defaulter pays before stopping
    prepay_after_days: int


@dataclass
class SampleReport:
    loans: int = 0
    days: int = 0
    repayments: int = 0
    prepayments: int = 0
    write_offs: int = 0
    start: date = SAMPLE_START
    end: date = SAMPLE_START


def plan_borrowers(n: int, seed: int) -> list[Borrower]:
    rng = random.Random(seed)
    names = [name for name, _ in BEHAVIOURS]
    weights = [weight for _, weight in BEHAVIOURS]
    return [
        Borrower(
            loan_id=f"DEMO-{k:05d}", behaviour=rng.choices(names, weights)[0],
            disburse_on=SAMPLE_START + timedelta(days=rng.randrange(0, 90)), late_days=rng.randrange(3, 45),
            stop_after=rng.randrange(0, 4), prepay_after_days=rng.randrange(60, 240),
        )
        for k in range(n)
    ]


def choose_terms(product: LoanProduct, rng: random.Random) -> tuple[int, int]:
    amount = rng.randrange(product.amount_min_minor, min(product.amount_max_minor, product.amount_min_minor * 30) + 1)
    amount -= amount % 100  # whole yuan
    return max(amount, product.amount_min_minor), rng.randrange(product.term_min, product.term_max + 1)


def run_demo(
    engine: Engine, *, loans_n: int = 400, days: int = 365, seed: int = 7,
    progress: Callable[[date], None] | None = None,
) -> SampleReport:
    """A quick sample book for tests: `loans_n` loans booked directly (no applications or decisions)
    from SAMPLE_START, run for `days` days with seeded repayment behaviour and daily end of day."""
    assert 1 <= loans_n <= 100_000 and 1 <= days <= DAYS_MAX
    rng = random.Random(seed)
    catalog = sorted(load_catalog().values(), key=lambda p: p.product_id)
    borrowers = plan_borrowers(loans_n, seed)
    report = SampleReport(loans=loans_n, start=SAMPLE_START, end=SAMPLE_START + timedelta(days=days - 1))
    borrowers_by_id = {b.loan_id: b for b in borrowers}
    by_day: dict[date, list[Borrower]] = {}
    for b in borrowers:
        by_day.setdefault(b.disburse_on, []).append(b)
    wake: dict[str, date] = {}  # the next day a borrower may act: the loan is read only then
    for offset in range(days):
        day = SAMPLE_START + timedelta(days=offset)
        for b in by_day.get(day, []):
            product = catalog[rng.randrange(len(catalog))]
            amount_minor, term = choose_terms(product, rng)
            book_loan(engine, loan_id=b.loan_id, product=product, amount=Money(amount_minor, product.currency),
                      term=term, on=day, key=f"book-{b.loan_id}")
            disburse_loan(engine, b.loan_id, day, f"disburse-{b.loan_id}")
            wake[b.loan_id] = day + timedelta(days=1)
        for b in [borrowers_by_id[i] for i, when in wake.items() if when <= day]:
            nxt = _act(engine, b, day, report)
            if nxt is None:
                del wake[b.loan_id]
            else:
                wake[b.loan_id] = nxt
        run_eod(engine, day, hooks=False)  # the tests that use this book run the hooks they test
        report.days += 1
        if progress:
            progress(day)
    return report


def _act(engine: Engine, b: Borrower, day: date, report: SampleReport) -> date | None:
    """One borrower's action today; returns the next day to look again (None: left the book)."""
    loan = get_loan(engine, b.loan_id)
    if not loan.is_live:
        return None
    if loan.days_past_due >= WRITE_OFF_DPD:
        write_off_loan(engine, b.loan_id, day, f"write-off-{b.loan_id}")
        report.write_offs += 1
        return None
    due_to_prepay = b.behaviour == "prepayer" and loan.disbursed_on is not None and (
        (day - loan.disbursed_on).days >= b.prepay_after_days)
    if due_to_prepay and _sample_prepay(engine, b, loan, day, report):
        return None
    lag = timedelta(days=b.late_days if b.behaviour == "late" else 0)
    stopped = b.behaviour == "defaulter" and _paid_installments(loan) >= b.stop_after
    owed = 0 if stopped else amount_due_minor(loan, day - lag)
    if owed > 0:
        repay_loan(engine, b.loan_id, day, Money(owed, loan.currency), f"pay-{b.loan_id}-{day.isoformat()}")
        report.repayments += 1
    return _next_wake(loan, day, lag, b, stopped)


def _next_wake(loan: Loan, day: date, lag: timedelta, b: Borrower, stopped: bool) -> date:
    if stopped:  # a defaulter is only looked at again to write it off
        return day + timedelta(days=30)
    upcoming = [i.due_date + lag for i in loan.installments if i.due_date + lag > day]
    candidates = [*upcoming[:1], day + timedelta(days=31)]
    if b.behaviour == "prepayer" and loan.disbursed_on:
        prepay_day = loan.disbursed_on + timedelta(days=b.prepay_after_days)
        if prepay_day > day:
            candidates.append(prepay_day)
    return min(candidates)


def _sample_prepay(engine: Engine, b: Borrower, loan: Loan, day: date, report: SampleReport) -> bool:
    if not may_prepay(loan, day):
        return False  # too early for the product's prepayment rule: tried again at the next look
    payoff = amount_due_minor(loan, day) + loan.principal_outstanding_minor + loan.principal_outstanding_minor // 10
    try:
        prepay_loan(engine, b.loan_id, day, Money(payoff, loan.currency), f"prepay-{b.loan_id}", full=True)
    except ServicingError:
        return False  # the last installment is already due: an ordinary repayment will close it
    report.prepayments += 1
    return True


def _paid_installments(loan: Loan) -> int:
    return sum(1 for i in loan.installments if not i.is_open and not i.capitalized)

