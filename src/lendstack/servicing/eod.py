"""End of day for one loan: the reference path. The columnar path (eod_columnar.py) must give
the same loans and the same postings, to the minor unit, and a property test holds it to that.

Order within the day matters and is fixed: (1) recognise interest and fees to date, (2) money in
suspense pays what fell due, (3) penalty interest on what is still overdue beyond grace,
(4) age: DPD, bucket, the observation of a restructured loan, five-tier class, status,
(5) non-accrual: enter it past the DPD limit, or resume accruing once current and performing.
Interest and penalty of (1) and (3) go to income or, for a loan in non-accrual at the start of the
day, to the memo accounts (income.py); (5) posts its own entry.
"""

from __future__ import annotations

from datetime import date, timedelta

from lendstack.invariants import InvariantError
from lendstack.ledger import AccountCode, EntryKind
from lendstack.servicing.accrual import days_past_due, penalty_for_day
from lendstack.servicing.aging import DEFAULT_AGING, AgingPolicy, FiveTier, is_performing, tier_index
from lendstack.servicing.income import enter_non_accrual, fee_pairs, interest_pairs, penalty_pairs, resume_accrual
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event
from lendstack.servicing.payments import accrue_to, apply_suspense
from lendstack.servicing.restructure import observation_end

A = AccountCode


def eod_entry_id(loan_id: str, on: date) -> str:
    return f"{loan_id}/eod/{on.isoformat()}"


def eod_one(loan: Loan, on: date, aging: AgingPolicy = DEFAULT_AGING) -> Outcome:
    """Close day `on` for one loan. Precondition: every earlier day is closed (catch-up is the
    caller's loop). A loan already closed through `on`, or not live, is returned unchanged."""
    if not loan.is_live or loan.accrued_through is None or loan.accrued_through >= on:
        return Outcome(loan)
    if loan.accrued_through != on - timedelta(days=1):
        raise InvariantError((loan.loan_id, loan.accrued_through, on))
    accrual = accrue_to(loan, on, "unused")  # its entry is folded into the day's single EOD entry
    interest_delta = accrual.loan.interest_accrued_minor - loan.interest_accrued_minor
    fee_delta = accrual.loan.fee_charged_minor - loan.fee_charged_minor
    paid = apply_suspense(accrual.loan, on, f"{loan.loan_id}/eod-suspense/{on.isoformat()}")
    cur = paid.loan
    penalty = penalty_for_day(cur, on) if cur.is_live else 0
    aged = age(cur.evolve(penalty_accrued_minor=cur.penalty_accrued_minor + penalty, accrued_through=on), on, aging)
    pairs = interest_pairs(loan, interest_delta) + fee_pairs(fee_delta) + penalty_pairs(loan, penalty)
    day_entry = entry(aged, eod_entry_id(loan.loan_id, on), EntryKind.EOD, on, pairs)
    events = paid.events
    if aged.status is LoanStatus.OVERDUE and loan.status is LoanStatus.ACTIVE:
        events += (event(aged, f"{loan.loan_id}/overdue/{on.isoformat()}", "loan.overdue", on),)
    switched = accrual_switch(aged, on, aging)
    return Outcome(switched.loan, day_entry + paid.entries + switched.entries, events + switched.events)


def age(loan: Loan, on: date, aging: AgingPolicy) -> Loan:
    """DPD, bucket, status, and the class: by DPD, never better than a restructured loan's floor."""
    if not loan.is_live:
        return loan
    dpd = days_past_due(loan, on)
    observed = observe(loan, on, dpd, aging)
    status = LoanStatus.OVERDUE if dpd > 0 else LoanStatus.ACTIVE
    return observed.evolve(days_past_due=dpd, bucket=aging.bucket(dpd), status=status,
                           five_tier=aging.classify(dpd, observed.observation_floor))


def observe(loan: Loan, on: date, dpd: int, aging: AgingPolicy) -> Loan:
    """One day of a restructured loan's observation period (重组观察期):
    - arrears (DPD > 0): the floor rises to `restructure_arrears_tier`, the period is missed;
    - cured after arrears: the observation starts again from the next due date;
    - its end reached with no arrears: the floor is lifted, the class follows DPD again."""
    if not loan.in_observation:
        return loan
    if loan.observation_end is None:
        raise InvariantError("a loan in observation has an end date")
    if dpd > 0:
        if loan.observation_missed:
            return loan
        floor = max(loan.observation_floor, aging.restructure_arrears_tier, key=tier_index)
        return loan.evolve(observation_floor=floor, observation_missed=True)
    if loan.observation_missed:
        return loan.evolve(observation_end=observation_end(loan.installments, on, aging), observation_missed=False)
    if on >= loan.observation_end:
        return loan.evolve(observation_floor=FiveTier.NORMAL, observation_end=None)
    return loan


def accrual_switch(loan: Loan, on: date, aging: AgingPolicy) -> Outcome:
    """Enter non-accrual past the DPD limit; resume accruing when current and performing again."""
    if not loan.is_live:
        return Outcome(loan)
    if not loan.non_accrual and loan.days_past_due > aging.non_accrual_dpd:
        new, pairs = enter_non_accrual(loan)
        kind, name, event_type = EntryKind.NON_ACCRUAL, "non-accrual", "loan.non_accrual"
    elif loan.non_accrual and loan.days_past_due <= aging.accrual_resume_dpd and is_performing(loan.five_tier):
        new, pairs = resume_accrual(loan)
        kind, name, event_type = EntryKind.ACCRUAL_RESUMED, "accrual-resumed", "loan.accrual_resumed"
    else:
        return Outcome(loan)
    entry_id = f"{loan.loan_id}/{name}/{on.isoformat()}"
    entries = entry(new, entry_id, kind, on, pairs)
    ev = event(new, entry_id, event_type, on, days_past_due=loan.days_past_due, five_tier=loan.five_tier.value,
               interest_minor=loan.interest_receivable_minor, penalty_minor=loan.penalty_receivable_minor)
    return Outcome(new, entries, (ev,))
