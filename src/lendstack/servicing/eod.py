"""End of day for one loan: the reference path. The columnar path (eod_columnar.py) must give
the same loans and the same postings, to the minor unit, and a property test holds it to that.

Order within the day matters and is fixed: (1) recognise interest and fees to date, (2) money in
suspense pays what fell due, (3) penalty interest on what is still overdue beyond grace,
(4) age: DPD, bucket, five-tier class, status.
"""

from __future__ import annotations

from datetime import date, timedelta

from lendstack.ledger import AccountCode, EntryKind
from lendstack.servicing.accrual import days_past_due, penalty_for_day
from lendstack.servicing.aging import DEFAULT_AGING, AgingPolicy
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event
from lendstack.servicing.payments import accrue_to, apply_suspense

A = AccountCode


def eod_entry_id(loan_id: str, on: date) -> str:
    return f"{loan_id}/eod/{on.isoformat()}"


def eod_one(loan: Loan, on: date, aging: AgingPolicy = DEFAULT_AGING) -> Outcome:
    """Close day `on` for one loan. Precondition: every earlier day is closed (catch-up is the
    caller's loop). A loan already closed through `on`, or not live, is returned unchanged."""
    if not loan.is_live or loan.accrued_through is None or loan.accrued_through >= on:
        return Outcome(loan)
    assert loan.accrued_through == on - timedelta(days=1), (loan.loan_id, loan.accrued_through, on)
    accrual = accrue_to(loan, on, "unused")  # its entry is folded into the day's single EOD entry
    interest_delta = accrual.loan.interest_accrued_minor - loan.interest_accrued_minor
    fee_delta = accrual.loan.fee_charged_minor - loan.fee_charged_minor
    paid = apply_suspense(accrual.loan, on, f"{loan.loan_id}/eod-suspense/{on.isoformat()}")
    cur = paid.loan
    penalty = penalty_for_day(cur, on) if cur.is_live else 0
    aged = age(cur.evolve(penalty_accrued_minor=cur.penalty_accrued_minor + penalty, accrued_through=on), on, aging)
    pairs = [
        (A.INTEREST_RECEIVABLE, interest_delta), (A.INTEREST_INCOME, -interest_delta),
        (A.FEE_RECEIVABLE, fee_delta), (A.FEE_INCOME, -fee_delta),
        (A.PENALTY_RECEIVABLE, penalty), (A.PENALTY_INCOME, -penalty),
    ]
    day_entry = entry(aged, eod_entry_id(loan.loan_id, on), EntryKind.EOD, on, pairs)
    events = paid.events
    if aged.status is LoanStatus.OVERDUE and loan.status is LoanStatus.ACTIVE:
        events += (event(aged, f"{loan.loan_id}/overdue/{on.isoformat()}", "loan.overdue", on),)
    return Outcome(aged, day_entry + paid.entries, events)


def age(loan: Loan, on: date, aging: AgingPolicy) -> Loan:
    if not loan.is_live:
        return loan
    dpd = days_past_due(loan, on)
    status = LoanStatus.OVERDUE if dpd > 0 else LoanStatus.ACTIVE
    return loan.evolve(days_past_due=dpd, bucket=aging.bucket(dpd), five_tier=aging.five_tier(dpd), status=status)
