"""APR by the IRR method, and staged drawdowns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lendstack.money import MoneyError
from lendstack.schedule import Tranche, apr_of, build_schedule, build_tranched, merge_lines


@pytest.mark.parametrize(
    ("amount_minor", "rate", "term", "frequency"),
    [
        (100_000_000, "0.049", 360, "monthly"),
        (10_000_000, "0.12", 12, "monthly"),
        (20_000_000, "0.144", 24, "monthly"),
        (50_000_000, "0.0999", 52, "weekly"),
        (30_000_000, "0.18", 26, "biweekly"),
    ],
)
def test_equal_installment_without_fees_has_apr_equal_to_the_rate(
    amount_minor: int, rate: str, term: int, frequency: str
) -> None:
    schedule = build_schedule(
        amount_minor=amount_minor,
        rate_annual=rate,
        term=term,
        method="equal_installment",
        start=date(2026, 1, 15),
        frequency=frequency,
    )
    assert abs(apr_of(schedule) - Decimal(rate)) < Decimal("1e-6")


def test_an_upfront_fee_raises_the_apr() -> None:
    schedule = build_schedule(
        amount_minor=10_000_000,
        rate_annual="0.12",
        term=12,
        method="equal_installment",
        start=date(2026, 1, 15),
    )
    with_fee = apr_of(schedule, upfront_fee_minor=200_000)  # 2 %, billed with installment 1
    assert with_fee > Decimal("0.155")  # a 2 % fee on a 1-year amortizing loan adds ~3.8 points


def test_bullet_apr_counts_the_periods_to_maturity() -> None:
    schedule = build_schedule(
        amount_minor=10_000_000, rate_annual="0.12", term=12, method="bullet", start=date(2026, 1, 15)
    )
    # 12 % simple interest paid after a year is a monthly IRR of 1.12^(1/12) − 1, × 12 ≈ 11.39 %.
    assert abs(apr_of(schedule) - Decimal("0.11386552")) < Decimal("1e-6")


def test_apr_fee_must_be_below_the_amount() -> None:
    schedule = build_schedule(
        amount_minor=1000, rate_annual="0.1", term=2, method="bullet", start=date(2026, 1, 1)
    )
    with pytest.raises(MoneyError) as caught:
        apr_of(schedule, upfront_fee_minor=1000)
    assert caught.value.field == "upfront_fee_minor"


FARM = (
    Tranche(5_000_000, date(2026, 4, 1), 9),  # sowing
    Tranche(8_000_000, date(2026, 6, 1), 7),  # growing
    Tranche(7_000_000, date(2026, 9, 1), 4),  # harvest
)


def test_farm_credit_line_in_three_tranches() -> None:
    schedules = build_tranched(FARM, rate_annual="0.0545", method="interest_only")
    assert [s.lines[0].period_start for s in schedules] == [t.draw_date for t in FARM]
    assert {s.maturity_date for s in schedules} == {date(2027, 1, 1)}
    calendar = merge_lines(schedules)
    last = calendar[-1]
    assert last.due_date == date(2027, 1, 1) and last.principal_minor == 20_000_000
    # October: all three tranches are out, so interest is on 200,000.
    october = next(line for line in calendar if line.due_date == date(2026, 10, 1))
    assert october.interest_minor == sum(
        round(Decimal(t.amount_minor) * Decimal("0.0545") / 12) for t in FARM
    )


def test_tranches_must_be_non_empty_and_strictly_increasing() -> None:
    with pytest.raises(MoneyError) as caught:
        build_tranched([], rate_annual="0.05", method="bullet")
    assert caught.value.field == "tranches"
    with pytest.raises(MoneyError) as caught:
        build_tranched([FARM[1], FARM[0]], rate_annual="0.05", method="bullet")
    assert caught.value.field == "tranches[1].draw_date"


def test_merge_refuses_mixed_currencies() -> None:
    cny = build_schedule(
        amount_minor=1000, rate_annual="0.1", term=1, method="bullet", start=date(2026, 1, 1)
    )
    usd = build_schedule(
        amount_minor=1000, rate_annual="0.1", term=1, method="bullet", start=date(2026, 1, 1), currency="USD"
    )
    with pytest.raises(MoneyError) as caught:
        merge_lines([cny, usd])
    assert caught.value.field == "currency"
