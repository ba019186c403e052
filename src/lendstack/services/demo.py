"""The demo book: a seeded sample portfolio run through the real code paths for a year.

Loans are booked and disbursed by the service layer; every day borrowers pay (on time, late,
partly, early, or not at all, by a seeded behaviour), defaulted loans are written off at a DPD
threshold, and end of day closes the day. Same seed → same book, to the minor unit.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from lendstack.money import Money
from lendstack.products import LoanProduct, load_catalog
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, prepay_loan, repay_loan, write_off_loan
from lendstack.servicing import Loan, ServicingError
from lendstack.store.tables import loans

DEMO_START = date(2025, 11, 1)
WRITE_OFF_DPD = 180
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
class DemoReport:
    loans: int = 0
    days: int = 0
    repayments: int = 0
    prepayments: int = 0
    write_offs: int = 0
    reused: bool = False
    start: date = DEMO_START
    end: date = DEMO_START
    notes: list[str] = field(default_factory=list)


def book_exists(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(loans)).scalar())


def plan_borrowers(n: int, seed: int) -> list[Borrower]:
    rng = random.Random(seed)
    names = [name for name, _ in BEHAVIOURS]
    weights = [weight for _, weight in BEHAVIOURS]
    return [
        Borrower(
            loan_id=f"DEMO-{k:05d}", behaviour=rng.choices(names, weights)[0],
            disburse_on=DEMO_START + timedelta(days=rng.randrange(0, 90)), late_days=rng.randrange(3, 45),
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
) -> DemoReport:
    """Book and run the demo portfolio for `days` days from DEMO_START."""
    assert 1 <= loans_n <= 100_000 and 1 <= days <= 3_660
    rng = random.Random(seed)
    catalog = sorted(load_catalog().values(), key=lambda p: p.product_id)
    borrowers = plan_borrowers(loans_n, seed)
    report = DemoReport(loans=loans_n, start=DEMO_START, end=DEMO_START + timedelta(days=days - 1))
    borrowers_by_id = {b.loan_id: b for b in borrowers}
    by_day: dict[date, list[Borrower]] = {}
    for b in borrowers:
        by_day.setdefault(b.disburse_on, []).append(b)
    wake: dict[str, date] = {}  # the next day a borrower may act: the loan is read only then
    for offset in range(days):
        day = DEMO_START + timedelta(days=offset)
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
        run_eod(engine, day)
        report.days += 1
        if progress:
            progress(day)
    return report


def _act(engine: Engine, b: Borrower, day: date, report: DemoReport) -> date | None:
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
    if due_to_prepay and _prepay(engine, b, loan, day, report):
        return None
    lag = timedelta(days=b.late_days if b.behaviour == "late" else 0)
    stopped = b.behaviour == "defaulter" and _paid_installments(loan) >= b.stop_after
    owed = 0 if stopped else amount_due(loan, day - lag)
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


def _prepay(engine: Engine, b: Borrower, loan: Loan, day: date, report: DemoReport) -> bool:
    payoff = amount_due(loan, day) + loan.principal_outstanding_minor + loan.principal_outstanding_minor // 10
    try:
        prepay_loan(engine, b.loan_id, day, Money(payoff, loan.currency), f"prepay-{b.loan_id}", full=True)
    except ServicingError:
        return False  # the last installment is already due: an ordinary repayment will close it
    report.prepayments += 1
    return True


def amount_due(loan: Loan, as_of: date) -> int:
    """What is due by `as_of` and unpaid, with penalty and net of suspense."""
    due = [i for i in loan.installments if i.due_date <= as_of]
    unpaid = sum(i.unpaid(c) for i in due for c in ("principal", "interest", "fee"))
    if unpaid == 0:
        return 0
    return max(0, unpaid + loan.penalty_receivable_minor - loan.suspense_minor)


def _paid_installments(loan: Loan) -> int:
    return sum(1 for i in loan.installments if not i.is_open and not i.capitalized)
