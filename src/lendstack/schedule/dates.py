"""Due dates. Monthly dates keep the anchor's day of month, clamped to the month's end, and are
always computed from the anchor (Jan 31 -> Feb 28 -> Mar 31), never from the previous due date,
so one short month does not pull every later date forward.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from lendstack.schedule.methods import Frequency


def add_months(anchor: date, months: int) -> date:
    """The anchor's day of month, `months` later, clamped to the end of the target month."""
    assert months >= 0
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def step_date(anchor: date, steps: int, frequency: Frequency) -> date:
    """The date `steps` regular periods after the anchor."""
    step_days = frequency.step_days
    if step_days is None:
        return add_months(anchor, steps)
    return anchor + timedelta(days=step_days * steps)


def due_dates(start: date, term: int, frequency: Frequency, first_due_date: date | None = None) -> list[date]:
    """The `term` due dates. With first_due_date, later dates step from it (broken first period)."""
    if first_due_date is None:
        return [step_date(start, k, frequency) for k in range(1, term + 1)]
    return [step_date(first_due_date, k, frequency) for k in range(term)]


def is_broken_first_period(start: date, frequency: Frequency, first_due_date: date | None) -> bool:
    """True when an explicit first due date differs from the regular one."""
    return first_due_date is not None and first_due_date != step_date(start, 1, frequency)
