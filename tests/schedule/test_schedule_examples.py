"""Hand-worked bank examples and the shape of each method's schedule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lendstack.schedule import Frequency, ScheduleMethod, build_schedule

START = date(2026, 1, 15)


def test_mortgage_equal_installment_is_the_well_known_5307_27() -> None:
    # 1,000,000 CNY at 4.9 % over 30 years: the payment every Chinese mortgage calculator shows.
    schedule = build_schedule(
        amount_minor=100_000_000,
        rate_annual=Decimal("0.049"),
        term=360,
        method="equal_installment",
        start=START,
    )
    assert {line.total_minor for line in schedule.lines[:-1]} == {530_727}
    first = schedule.lines[0]
    assert (first.interest_minor, first.principal_minor) == (408_333, 122_394)  # 1e6 × 0.049 / 12
    assert schedule.lines[-1].remaining_principal_minor == 0
    assert abs(schedule.lines[-1].total_minor - 530_727) < 500  # the last absorbs rounding only
    assert schedule.maturity_date == date(2056, 1, 15)


def test_mortgage_equal_principal_first_payment_and_monthly_decrease() -> None:
    schedule = build_schedule(
        amount_minor=100_000_000,
        rate_annual=Decimal("0.049"),
        term=360,
        method="equal_principal",
        start=START,
    )
    first, second = schedule.lines[0], schedule.lines[1]
    assert (first.principal_minor, first.interest_minor, first.total_minor) == (277_778, 408_333, 686_111)
    # Each month the interest falls by 2,777.78 × 0.049 / 12 = 11.34 (± a fen of rounding).
    decreases = {
        a.total_minor - b.total_minor for a, b in zip(schedule.lines, schedule.lines[1:-1], strict=False)
    }
    assert decreases <= {1134, 1135}
    assert first.total_minor - second.total_minor == 1134
    assert sum(line.principal_minor for line in schedule.lines) == 100_000_000


def test_consumer_loan_100k_12_percent_12_months() -> None:
    schedule = build_schedule(
        amount_minor=10_000_000, rate_annual=Decimal("0.12"), term=12, method="equal_installment", start=START
    )
    assert schedule.lines[0].total_minor == 888_488
    assert schedule.lines[0].interest_minor == 100_000  # 1 % a month
    assert schedule.total_interest_minor == sum(line.interest_minor for line in schedule.lines)


def test_interest_only_pays_all_principal_with_the_last() -> None:
    schedule = build_schedule(
        amount_minor=20_000_000,
        rate_annual=Decimal("0.06"),
        term=6,
        method=ScheduleMethod.INTEREST_ONLY,
        start=START,
    )
    assert [line.principal_minor for line in schedule.lines] == [0] * 5 + [20_000_000]
    assert {line.interest_minor for line in schedule.lines} == {100_000}


def test_bullet_is_one_installment_with_all_interest() -> None:
    schedule = build_schedule(
        amount_minor=10_000_000, rate_annual=Decimal("0.12"), term=3, method="bullet", start=START
    )
    (line,) = schedule.lines
    assert (line.principal_minor, line.interest_minor, line.due_date) == (
        10_000_000,
        300_000,
        date(2026, 4, 15),
    )
    assert schedule.term == 3


def test_zero_rate_splits_principal_evenly_and_the_last_absorbs() -> None:
    schedule = build_schedule(
        amount_minor=1000, rate_annual="0", term=3, method="equal_installment", start=START
    )
    assert [line.principal_minor for line in schedule.lines] == [333, 333, 334]
    assert schedule.total_interest_minor == 0


def test_periodic_fee_on_every_line() -> None:
    schedule = build_schedule(
        amount_minor=1_200_000,
        rate_annual="0.12",
        term=12,
        method="equal_principal",
        start=START,
        fee_per_period_minor=500,
    )
    assert {line.fee_minor for line in schedule.lines} == {500}
    assert schedule.total_fee_minor == 6000
    assert all(
        line.total_minor == line.principal_minor + line.interest_minor + 500 for line in schedule.lines
    )


def test_month_end_clamping_anchors_on_the_start_day() -> None:
    schedule = build_schedule(
        amount_minor=1_000_000, rate_annual="0.1", term=4, method="equal_principal", start=date(2024, 1, 31)
    )
    assert [line.due_date for line in schedule.lines] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert [line.period_start for line in schedule.lines][1:] == [line.due_date for line in schedule.lines][
        :-1
    ]


@pytest.mark.parametrize(("frequency", "days"), [(Frequency.BIWEEKLY, 14), (Frequency.WEEKLY, 7)])
def test_weekly_frequencies_step_by_days_and_use_their_period_rate(frequency: Frequency, days: int) -> None:
    schedule = build_schedule(
        amount_minor=5_200_000,
        rate_annual="0.052",
        term=4,
        method="interest_only",
        start=START,
        frequency=frequency,
    )
    assert [(line.due_date - START).days for line in schedule.lines] == [days * k for k in range(1, 5)]
    assert schedule.lines[0].interest_minor == 5_200_000 * 52 // 1000 // frequency.periods_per_year


def test_broken_first_period_earns_interest_by_day_count() -> None:
    # Drawn on Jan 10, due on the 25th each month: a 46-day first period at ACT/365F.
    schedule = build_schedule(
        amount_minor=10_000_000,
        rate_annual="0.0365",
        term=3,
        method="interest_only",
        start=date(2026, 1, 10),
        first_due_date=date(2026, 2, 25),
    )
    assert schedule.lines[0].interest_minor == 10_000_000 * 46 // 10_000  # 0.0365 × 46 / 365 = 0.46 %
    assert [line.due_date for line in schedule.lines] == [
        date(2026, 2, 25),
        date(2026, 3, 25),
        date(2026, 4, 25),
    ]
    regular = round(Decimal(10_000_000) * Decimal("0.0365") / 12)
    assert schedule.lines[1].interest_minor == regular


def test_first_due_date_equal_to_the_regular_one_is_not_broken() -> None:
    kwargs = dict(
        amount_minor=10_000_000, rate_annual="0.0365", term=3, method="equal_installment", start=START
    )
    assert build_schedule(**kwargs, first_due_date=date(2026, 2, 15)) == build_schedule(**kwargs)  # type: ignore[arg-type]


def test_bullet_with_a_broken_first_period() -> None:
    schedule = build_schedule(
        amount_minor=36_500_000,
        rate_annual="0.1",
        term=2,
        method="bullet",
        start=date(2026, 1, 1),
        first_due_date=date(2026, 1, 21),
    )
    # 20 days at ACT/365F plus one regular month: 365,000 × 0.1 × (20/365 + 1/12), rounded once.
    assert schedule.lines[0].interest_minor == round(
        Decimal(36_500_000) * Decimal("0.1") * (Decimal(20) / 365 + Decimal(1) / 12)
    )
    assert schedule.maturity_date == date(2026, 2, 21)


@pytest.mark.parametrize(("rounding", "expected"), [("half_up", 1), ("half_even", 0), ("down", 0), ("up", 1)])
def test_rounding_modes_on_an_exact_half(rounding: str, expected: int) -> None:
    # 100 fen at 6 % for one month: interest exactly 0.5 fen.
    schedule = build_schedule(
        amount_minor=100, rate_annual="0.06", term=1, method="interest_only", start=START, rounding=rounding
    )
    assert schedule.lines[0].interest_minor == expected
