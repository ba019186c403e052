"""Money, rates, rounding, day counts, IRR/APR and rate caps."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendstack.money import (
    DayCount,
    Money,
    MoneyError,
    RateCapExceeded,
    RoundingMode,
    apr_by_irr,
    check_rate_cap,
    currency_of,
    div_round,
    irr_periodic,
    parse_rate,
    round_to_minor,
    year_fraction,
)
from lendstack.money.irr import _irr_by_bisection
from lendstack.money.money import format_minor, format_minor_grouped
from lendstack.servicing.eod_columnar import ROUNDING_CODES, div_round_array


def test_money_is_integer_minor_units_with_a_currency() -> None:
    assert Money.of_major("1234.56", "cny") == Money(123456, "CNY")
    assert Money(123456, "CNY").to_major_str() == "1234.56"
    assert format_minor(-5, "USD") == "-0.05" and format_minor(7, "JPY") == "7"
    assert Money(5, "EUR") + Money(7, "EUR") == Money(12, "EUR")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Money(1.5, "CNY"), "amount_minor"),  # type: ignore[arg-type]
        (lambda: Money(True, "CNY"), "amount_minor"),
        (lambda: Money(10**13, "CNY"), "amount_minor"),
        (lambda: Money(1, "XXX"), "currency"),
        (lambda: Money.of_major("1.234", "CNY"), "amount"),
        (lambda: Money.of_major("abc", "CNY"), "amount"),
        (lambda: Money.of_major(1.5, "CNY"), "amount"),  # type: ignore[arg-type]
        (lambda: Money(1, "CNY") + Money(1, "USD"), "currency"),
        (lambda: currency_of(5), "currency"),
        (lambda: parse_rate(0.1, "rate_annual"), "rate_annual"),
        (lambda: parse_rate("0.1234567", "rate_annual"), "rate_annual"),
        (lambda: parse_rate("-0.01", "rate_annual"), "rate_annual"),
        (lambda: parse_rate("NaN", "rate_annual"), "rate_annual"),
        (lambda: parse_rate("11", "rate_annual"), "rate_annual"),
    ],
)
def test_bad_money_input_names_the_field(make: object, field: str) -> None:
    with pytest.raises(MoneyError) as err:
        make()  # type: ignore[operator]
    assert err.value.field == field


def test_rounding_modes_on_halves() -> None:
    half = Decimal("2.5")
    assert [round_to_minor(half, m) for m in RoundingMode] == [3, 2, 2, 3]
    assert round_to_minor(Decimal("-2.5"), RoundingMode.HALF_UP) == -3


@given(st.integers(0, 10**15), st.integers(1, 10**7), st.sampled_from(list(RoundingMode)))
def test_integer_division_rounding_matches_decimal_and_numpy(num: int, den: int, mode: RoundingMode) -> None:
    expected = round_to_minor(Decimal(num) / Decimal(den), mode)
    assert div_round(num, den, mode) == expected
    got = div_round_array(np.array([num], dtype=np.int64), np.array([den], dtype=np.int64),
                          np.array([ROUNDING_CODES[mode]], dtype=np.int64))
    assert int(got[0]) == expected


def test_day_counts() -> None:
    start, end = date(2026, 1, 31), date(2026, 3, 1)
    assert year_fraction(start, end, DayCount.ACT_365F) == Decimal(29) / 365
    assert year_fraction(start, end, DayCount.ACT_360) == Decimal(29) / 360
    assert year_fraction(start, end, DayCount.THIRTY_360) == Decimal(31) / 360  # Jan 30 → Mar 1
    assert year_fraction(date(2026, 1, 15), date(2027, 1, 15), DayCount.THIRTY_360) == 1


def test_irr_and_apr_match_numpy_financial() -> None:
    flows = [-100_000_00, *([8_884_88] * 12)]  # 100,000 at 12 % over 12 months
    irr = irr_periodic(flows)
    assert abs(float(irr) - npf.irr(flows)) < 1e-9
    assert abs(apr_by_irr(flows, 12) - Decimal("0.12")) < Decimal("0.00001")


def test_an_upfront_fee_raises_the_apr_and_the_cap_refuses_it() -> None:
    flows = [-(100_000_00 - 3_000_00), *([8_884_88] * 12)]
    apr = apr_by_irr(flows, 12)
    assert apr > Decimal("0.17")
    with pytest.raises(RateCapExceeded) as err:
        check_rate_cap(apr, Decimal("0.15"))
    assert err.value.field == "rate_annual"
    check_rate_cap(apr, Decimal("0.24"))


@given(st.integers(1, 10**10), st.lists(st.integers(0, 10**9), min_size=1, max_size=120),
       st.integers(0, 3))
def test_irr_matches_the_bisection_reference(outlay_minor: int, inflows_minor: list[int], zeros: int) -> None:
    """The Newton search (float guess, exact rtsafe) finds the root plain bisection finds."""
    flows = [-outlay_minor, *([0] * zeros), *inflows_minor]
    try:
        expected = _irr_by_bisection(flows)
    except MoneyError as err:
        with pytest.raises(MoneyError) as fast_err:
            irr_periodic(flows)
        assert fast_err.value.field == err.field == "cash_flows"
        return
    got = irr_periodic(flows)
    assert abs(got - expected) <= Decimal("1e-17"), (got, expected)
    assert apr_by_irr(flows, 12) == (expected * 12).quantize(Decimal("1e-8"))


@pytest.mark.parametrize("flows", [[100, 200], [-100], [-100, -5]])
def test_irr_needs_an_outflow_and_an_inflow(flows: list[int]) -> None:
    with pytest.raises(MoneyError) as err:
        irr_periodic(flows)
    assert err.value.field == "cash_flows"


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "USD", "JPY"]))
def test_grouped_display_is_the_exact_amount_with_separators(amount_minor: int, currency: str) -> None:
    grouped = format_minor_grouped(amount_minor, currency)
    assert grouped.replace(",", "") == format_minor(amount_minor, currency)  # same digits, nothing lost
    assert Decimal(grouped.replace(",", "")) * 10 ** currency_of(currency).minor_digits == amount_minor
    whole = grouped.lstrip("-").split(".")[0]
    assert all(len(group) == 3 for group in whole.split(",")[1:])


def test_grouped_display_uses_the_currency_digits() -> None:
    assert format_minor_grouped(123456789, "CNY") == "1,234,567.89"
    assert format_minor_grouped(123456789, "JPY") == "123,456,789"  # no minor unit: never divided by 100
    assert format_minor_grouped(-5, "USD") == "-0.05"
