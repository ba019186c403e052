"""Staged drawdowns of one credit line (e.g. a farm loan: 50k at sowing, 80k at growing, 70k at
harvest). Each tranche is repaid on its own schedule from its draw date; the borrower's cash-flow
calendar is the per-due-date sum of all of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lendstack.invariants import check
from lendstack.money import DayCount, MoneyError, RoundingMode
from lendstack.schedule.build import Schedule, build_schedule
from lendstack.schedule.methods import Frequency, ScheduleMethod


@dataclass(frozen=True, slots=True)
class Tranche:
    amount_minor: int
    draw_date: date
    term: int  # periods


@dataclass(frozen=True, slots=True)
class CalendarLine:
    """All installments falling due on one date, summed over tranches."""

    due_date: date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    total_minor: int

    def __post_init__(self) -> None:
        check(self.total_minor == self.principal_minor + self.interest_minor + self.fee_minor,
              "a total is principal plus interest plus fee")


def build_tranched(
    tranches: Sequence[Tranche],
    *,
    rate_annual: Decimal | str,
    method: ScheduleMethod | str,
    currency: str = "CNY",
    frequency: Frequency | str = Frequency.MONTHLY,
    day_count: DayCount | str = DayCount.ACT_365F,
    rounding: RoundingMode | str = RoundingMode.HALF_UP,
    fee_per_period_minor: int = 0,
) -> tuple[Schedule, ...]:
    """One schedule per tranche, each starting at its draw date, in draw order."""
    _check_tranches(tranches)
    return tuple(
        build_schedule(
            amount_minor=tranche.amount_minor,
            rate_annual=rate_annual,
            term=tranche.term,
            method=method,
            start=tranche.draw_date,
            currency=currency,
            frequency=frequency,
            day_count=day_count,
            rounding=rounding,
            fee_per_period_minor=fee_per_period_minor,
        )
        for tranche in tranches
    )


def _check_tranches(tranches: Sequence[Tranche]) -> None:
    if not tranches:
        raise MoneyError("tranches", "need at least one tranche")
    for index in range(1, len(tranches)):
        previous, current = tranches[index - 1].draw_date, tranches[index].draw_date
        if not current > previous:
            raise MoneyError(
                f"tranches[{index}].draw_date",
                f"draw dates must be strictly increasing: {current} is not after {previous}",
            )


def merge_lines(schedules: Iterable[Schedule]) -> tuple[CalendarLine, ...]:
    """The combined cash-flow calendar: per due date sums, in date order."""
    sums: defaultdict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    currencies = set()
    for schedule in schedules:
        currencies.add(schedule.currency)
        for line in schedule.lines:
            parts = sums[line.due_date]
            parts[0] += line.principal_minor
            parts[1] += line.interest_minor
            parts[2] += line.fee_minor
    if len(currencies) > 1:
        raise MoneyError("currency", f"cannot merge schedules in {', '.join(sorted(currencies))}")
    return tuple(
        CalendarLine(due, principal, interest, fee, principal + interest + fee)
        for due, (principal, interest, fee) in sorted(sums.items())
    )
