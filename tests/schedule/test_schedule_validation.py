"""Every bad argument raises MoneyError naming its field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from lendstack.money import MoneyError
from lendstack.schedule import build_schedule

GOOD: dict[str, Any] = dict(
    amount_minor=1_000_000,
    rate_annual=Decimal("0.05"),
    term=12,
    method="equal_installment",
    start=date(2026, 1, 31),
)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": 10**12 + 1}, "amount_minor"),
        ({"amount_minor": 1000.0}, "amount_minor"),
        ({"amount_minor": True}, "amount_minor"),
        ({"term": 0}, "term"),
        ({"term": 601}, "term"),
        ({"term": "12"}, "term"),
        ({"rate_annual": Decimal("-0.01")}, "rate_annual"),
        ({"rate_annual": Decimal("10.5")}, "rate_annual"),
        ({"rate_annual": Decimal("0.0000001")}, "rate_annual"),
        ({"rate_annual": 0.05}, "rate_annual"),
        ({"rate_annual": "five"}, "rate_annual"),
        ({"method": "balloon"}, "method"),
        ({"frequency": "daily"}, "frequency"),
        ({"day_count": "ACT/ACT"}, "day_count"),
        ({"rounding": "ceiling"}, "rounding"),
        ({"currency": "XXX"}, "currency"),
        ({"start": "2026-01-31"}, "start"),
        ({"start": datetime(2026, 1, 31, 9)}, "start"),
        ({"first_due_date": date(2026, 1, 31)}, "first_due_date"),
        ({"first_due_date": date(2026, 1, 1)}, "first_due_date"),
        ({"first_due_date": date(2026, 3, 31)}, "first_due_date"),  # the second regular due date
        ({"first_due_date": "2026-02-15"}, "first_due_date"),
        ({"fee_per_period_minor": -1}, "fee_per_period_minor"),
        ({"fee_per_period_minor": 1.5}, "fee_per_period_minor"),
    ],
)
def test_bad_argument_names_its_field(override: dict[str, Any], field: str) -> None:
    with pytest.raises(MoneyError) as caught:
        build_schedule(**{**GOOD, **override})
    assert caught.value.field == field


def test_first_due_date_just_before_the_second_regular_date_is_accepted() -> None:
    schedule = build_schedule(**GOOD, first_due_date=date(2026, 3, 30))
    assert schedule.lines[0].due_date == date(2026, 3, 30)
    assert schedule.lines[1].due_date == date(2026, 4, 30)


def test_schedule_is_frozen() -> None:
    schedule = build_schedule(**GOOD)
    with pytest.raises(AttributeError):
        schedule.amount_minor = 5  # type: ignore[misc]
