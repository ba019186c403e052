"""The APR of a schedule by the IRR method (年化利率, as the PBOC's 2021 notice prescribes).

The APR disclosed and capped is the IRR of the cash flows the loan will actually have: the whole
amount is paid out (no fee is deducted from it: 砍头息 is banned) and an upfront fee is billed with
installment 1. Times are in regular periods: a broken first period counts its real length as a
fraction of a regular one, so a 41-day first month is not one month.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from lendstack.invariants import InvariantError, check
from lendstack.money import MoneyError, PeriodTime, apr_by_irr
from lendstack.schedule.build import Schedule
from lendstack.schedule.dates import step_date


def apr_of(schedule: Schedule, upfront_fee_minor: int = 0) -> Decimal:
    """Nominal APR: the periodic IRR of `cash_flows(schedule, upfront_fee_minor)` × periods per year.

    A regular schedule's times are the whole periods 0, 1, ..., n (a bullet's: 0 and term), so
    without an upfront fee its APR is the equally spaced IRR of its installments. The fee is an
    amount in 0..amount − 1 minor units.
    """
    if isinstance(upfront_fee_minor, bool) or not isinstance(upfront_fee_minor, int):
        raise MoneyError(
            "upfront_fee_minor", f"must be an integer number of minor units, got {upfront_fee_minor!r}"
        )
    if not 0 <= upfront_fee_minor < schedule.amount_minor:
        raise MoneyError(
            "upfront_fee_minor", f"must be in 0..{schedule.amount_minor - 1}, got {upfront_fee_minor}"
        )
    flows, times = cash_flows(schedule, upfront_fee_minor)
    return apr_by_irr(flows, schedule.frequency.periods_per_year, times=times)


def cash_flows(schedule: Schedule, upfront_fee_minor: int = 0) -> tuple[list[int], list[PeriodTime]]:
    """The loan's flows and their times in regular periods, the lender's side.

    −amount at t = 0; installment k's total at t_1 + k − 1, the upfront fee added to installment 1;
    t_1 = first_period_periods(schedule). A bullet's one installment is at t_1 + term − 1.
    """
    check(upfront_fee_minor >= 0, "an upfront fee is not negative")
    totals = [line.total_minor for line in schedule.lines]
    totals[0] += upfront_fee_minor
    first = first_period_periods(schedule) + (schedule.term - len(totals))  # term − 1 more for a bullet
    # Fraction(n + k·d, d) rather than first + k: Fraction addition costs three times as much.
    num, den = first.numerator, first.denominator
    times: list[PeriodTime] = [first + k if den == 1 else Fraction(num + k * den, den) for k in range(len(totals))]
    return [-schedule.amount_minor, *totals], [0, *times]


def first_period_periods(schedule: Schedule) -> PeriodTime:
    """The first period's length in regular periods: 1 when its due date is the regular one, else
    its days over the days of the regular first period (41 / 31 from Jan 15 to Feb 25)."""
    start, first_due = schedule.lines[0].period_start, schedule.first_due_date
    if first_due is None or not start < first_due:
        raise InvariantError("the first due date is after the start")
    regular = step_date(start, 1, schedule.frequency)
    if first_due == regular:
        return 1
    return Fraction((first_due - start).days, (regular - start).days)
