"""Due dates. Monthly dates fall on one day of month, clamped to the month's end, and are always
computed from the anchor (Jan 31 -> Feb 28 -> Mar 31), never from the previous due date, so one
short month does not pull every later date forward.

That day is the anchor's own unless the contract's day of month (`due_day`) is given: a schedule
rebuilt from a clamped date (Feb 28 of a loan due on the 31st) keeps the 31st (Mar 31, Apr 30).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from lendstack.invariants import InvariantError
from lendstack.money import MoneyError
from lendstack.schedule.methods import Frequency

DUE_DAY_MAX = 31


def check_due_day(due_day: object) -> int:
    """The contract's day of month, 1..31 (a short month clamps it); MoneyError naming due_day."""
    if isinstance(due_day, bool) or not isinstance(due_day, int):
        raise MoneyError("due_day", f"must be an integer day of month, got {due_day!r}")
    if not 1 <= due_day <= DUE_DAY_MAX:
        raise MoneyError("due_day", f"must be between 1 and {DUE_DAY_MAX}, got {due_day}")
    return due_day


def _month_on_day(anchor: date, months: int, day: int) -> date:
    """Day `day` of the month `months` after the anchor's, clamped to the end of that month."""
    if not (months >= 0 and 1 <= day <= DUE_DAY_MAX):
        raise InvariantError((months, day))
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(anchor: date, months: int) -> date:
    """The anchor's day of month, `months` later, clamped to the end of the target month."""
    return _month_on_day(anchor, months, anchor.day)


def step_date(anchor: date, steps: int, frequency: Frequency, due_day: int | None = None) -> date:
    """The date `steps` regular periods after the anchor; monthly on `due_day` if given (the
    anchor's own day otherwise). Day-step frequencies ignore due_day."""
    step_days = frequency.step_days
    if step_days is None:
        return _month_on_day(anchor, steps, anchor.day if due_day is None else due_day)
    return anchor + timedelta(days=step_days * steps)


def due_dates(
    start: date,
    term: int,
    frequency: Frequency,
    first_due_date: date | None = None,
    *,
    due_day: int | None = None,
) -> list[date]:
    """The `term` due dates. With first_due_date, later dates step from it (broken first period).

    With due_day (monthly only), every stepped date falls on min(due_day, days in its month):
    all of them without first_due_date, dates 2..term with it (first_due_date itself is kept).
    """
    if due_day is not None:
        check_due_day(due_day)
    if first_due_date is None:
        return [step_date(start, k, frequency, due_day) for k in range(1, term + 1)]
    return [first_due_date, *(step_date(first_due_date, k, frequency, due_day) for k in range(1, term))]


def next_due_on_day(after: date, due_day: int) -> date:
    """The first date strictly after `after` whose day is min(due_day, days in its month).

    After 2026-02-10 on the 31st: 2026-02-28; after 2026-02-28: 2026-03-31; after 2026-01-31: 2026-02-28.
    """
    if isinstance(after, datetime) or not isinstance(after, date):
        raise MoneyError("after", f"must be a date, got {after!r}")
    day = check_due_day(due_day)
    this_month = _month_on_day(after, 0, day)
    return this_month if this_month > after else _month_on_day(after, 1, day)


def is_broken_first_period(start: date, frequency: Frequency, first_due_date: date | None) -> bool:
    """True when an explicit first due date differs from the regular one."""
    return first_due_date is not None and first_due_date != step_date(start, 1, frequency)
