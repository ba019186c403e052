"""What a loan has earned by a date: pure functions of its installments.

Interest accrues straight-line within each period and is rounded cumulatively: the accrued
total on day D is the sum of the interest of the periods already due plus a rounded pro-rata
part of the running period. So on each due date the accrued interest equals the scheduled
interest exactly (no drift from daily rounding), and accruing "to date D" is idempotent.
Fees are recognised when they fall due. Penalty interest (罚息) accrues day by day on principal
overdue beyond the grace days, so it depends on history and is posted once per day by EOD.
"""

from __future__ import annotations

from datetime import date

from lendstack.money import RoundingMode, div_round
from lendstack.money.rates import RATE_PPM
from lendstack.servicing.loan import Installment, Loan


def period_interest_to_date(inst: Installment, as_of: date, rounding: RoundingMode) -> int:
    """Interest of one period accrued by the end of day `as_of`."""
    if as_of >= inst.due_date:
        return inst.interest_minor
    if as_of <= inst.period_start:
        return 0
    elapsed_days = (as_of - inst.period_start).days
    period_days = (inst.due_date - inst.period_start).days
    return div_round(inst.interest_minor * elapsed_days, period_days, rounding)


def interest_target(loan: Loan, as_of: date) -> int:
    """Total interest the loan has earned by the end of `as_of` (all schedules, history too)."""
    rounding = loan.terms.rounding
    return sum(period_interest_to_date(i, as_of, rounding) for i in loan.installments)


def fee_target(loan: Loan, as_of: date) -> int:
    """Total fees fallen due by `as_of`."""
    return sum(i.fee_minor for i in loan.installments if i.due_date <= as_of)


def penalty_base(loan: Loan, as_of: date) -> int:
    """Principal (and interest, if the product says so) overdue beyond the grace days on `as_of`."""
    base = 0
    for inst in loan.installments:
        if (as_of - inst.due_date).days <= loan.terms.grace_days:
            continue
        base += inst.unpaid("principal")
        if loan.terms.penalty_on_interest:
            base += inst.unpaid("interest")
    return base


def penalty_for_day(loan: Loan, as_of: date) -> int:
    """One day's penalty interest: base × penalty rate / days in the year, rounded once."""
    base = penalty_base(loan, as_of)
    if base == 0 or loan.terms.penalty_rate_ppm == 0:
        return 0
    year_days = loan.terms.day_count.year_days
    return div_round(base * loan.terms.penalty_rate_ppm, year_days * RATE_PPM, loan.terms.rounding)


def oldest_open_due(loan: Loan) -> date | None:
    """Due date of the earliest installment with anything unpaid, or None."""
    return next((i.due_date for i in loan.installments if i.is_open), None)


def days_past_due(loan: Loan, as_of: date) -> int:
    oldest = oldest_open_due(loan)
    if oldest is None or oldest >= as_of:
        return 0
    return (as_of - oldest).days
