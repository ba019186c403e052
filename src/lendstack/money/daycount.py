"""Day-count conventions: the year fraction between two dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum


class DayCount(StrEnum):
    ACT_365F = "ACT/365F"  # actual days / 365, fixed: the usual for CNY loans' daily rate
    ACT_360 = "ACT/360"  # actual days / 360: 日利率 = 年利率 / 360 in many Chinese contracts
    THIRTY_360 = "30/360"  # 30/360 US (bond basis)

    @property
    def year_days(self) -> int:
        return 365 if self is DayCount.ACT_365F else 360


def day_count_days(start: date, end: date, convention: DayCount) -> int:
    """The numerator of the year fraction: actual days, or 30/360-days."""
    if convention is DayCount.THIRTY_360:
        return _days_30_360(start, end)
    return (end - start).days


def year_fraction(start: date, end: date, convention: DayCount) -> Decimal:
    """Exact Decimal year fraction from start (inclusive) to end (exclusive)."""
    return Decimal(day_count_days(start, end, convention)) / Decimal(convention.year_days)


def _days_30_360(start: date, end: date) -> int:
    # 30/360 US: day 31 becomes 30; an end day 31 becomes 30 only if the start day is 30 or 31.
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)
