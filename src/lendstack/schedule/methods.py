"""Schedule methods and payment frequencies."""

from __future__ import annotations

from enum import StrEnum


class ScheduleMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息: the same total every period (annuity)
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: the same principal every period
    INTEREST_ONLY = "interest_only"  # 先息后本: interest each period, all principal with the last
    BULLET = "bullet"  # 到期一次还本付息: one installment at maturity, principal + all interest


class Frequency(StrEnum):
    MONTHLY = "monthly"
    BIWEEKLY = "biweekly"
    WEEKLY = "weekly"

    @property
    def periods_per_year(self) -> int:
        return _PERIODS_PER_YEAR[self]

    @property
    def step_days(self) -> int | None:
        """Days between due dates, or None for calendar months."""
        return _STEP_DAYS[self]


_PERIODS_PER_YEAR = {Frequency.MONTHLY: 12, Frequency.BIWEEKLY: 26, Frequency.WEEKLY: 52}
_STEP_DAYS: dict[Frequency, int | None] = {
    Frequency.MONTHLY: None,
    Frequency.BIWEEKLY: 14,
    Frequency.WEEKLY: 7,
}
