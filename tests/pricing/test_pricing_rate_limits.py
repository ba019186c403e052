"""Risk-based rate components and clamping; limits: seasonal, off-season, tranches, green, caps; batch == one-row."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from lendstack.money import RateCapExceeded
from lendstack.pricing import (
    Caps,
    Exposure,
    LimitInput,
    LimitPolicy,
    PricingPolicy,
    Season,
    Tranche,
    apr_check,
    credit_limit,
    credit_limit_batch,
    fixed_units,
    lgd_units,
    quote_rate,
    rate_band,
    rate_units_batch,
    risk_based_rate,
    split_tranches,
)
from lendstack.products import get_product

PRICING = PricingPolicy(cost_of_funds="0.025", operating_cost="0.015", margin="0.02",
                        grade_adjustments={"A": "-0.005", "E": "0.02"})
CONSUMER = get_product("consumer_cny_12m")  # band 0.072 - 0.18, cap 0.24


def test_rate_is_the_sum_of_its_components() -> None:
    quote = quote_rate(0.05, Decimal("0.6"), CONSUMER, PRICING, "B")
    assert quote.expected_loss == Decimal("0.03")
    assert quote.rate_annual == Decimal("0.090000") == Decimal("0.025") + Decimal("0.03") + Decimal("0.015") + \
        Decimal("0.02")
    assert quote.clamped_by == ""
    assert quote.rate_annual.as_tuple().exponent == -6


def test_rate_clamps_to_the_band_and_the_legal_cap() -> None:
    low = quote_rate(0.0, Decimal("0.5"), CONSUMER, PRICING, "A")
    assert (low.rate_annual, low.clamped_by) == (Decimal("0.072000"), "rate_min")
    high = quote_rate(0.5, Decimal("0.9"), CONSUMER, PRICING, "E")
    assert (high.rate_annual, high.clamped_by) == (Decimal("0.180000"), "rate_max")
    capped = CONSUMER.model_copy(update={"rate_cap_apr": Decimal("0.15")})
    legal = quote_rate(0.5, Decimal("0.9"), capped, PRICING, "E")
    assert (legal.rate_annual, legal.clamped_by) == (Decimal("0.150000"), "legal_cap")
    assert risk_based_rate(0.5, Decimal("0.9"), capped, PRICING, "E") == Decimal("0.15")


def test_batch_rate_equals_the_one_row_rate() -> None:
    rng = np.random.default_rng(1)
    pd = rng.uniform(0, 0.6, 2000)
    low, high = rate_band(CONSUMER)
    lgd = lgd_units(Decimal("0.55"))
    units = rate_units_batch(pd, np.full(2000, lgd), np.full(2000, fixed_units(PRICING, "C")),
                             np.full(2000, low), np.full(2000, high))
    for p, u in zip(pd[:500], units[:500], strict=True):
        assert quote_rate(float(p), Decimal("0.55"), CONSUMER, PRICING, "C").rate_annual == Decimal(int(u)) / 10**6


def test_apr_check_refuses_an_offer_above_the_legal_cap() -> None:
    summary = apr_check(CONSUMER, 1_000_000, 12, Decimal("0.12"), __import__("datetime").date(2026, 1, 5))
    assert Decimal("0.12") <= summary.apr < Decimal("0.13")
    capped = CONSUMER.model_copy(update={"rate_cap_apr": Decimal("0.10")})
    with pytest.raises(RateCapExceeded):
        apr_check(capped, 1_000_000, 12, Decimal("0.12"), __import__("datetime").date(2026, 1, 5))


LIMITS = LimitPolicy(
    income="monthly_income_minor", multiplier="3",
    seasons={"farming": Season(peak_months=(3, 4), off_months=(12, 1), uplift="0.30")},
    tranches={"farming": (Tranche(stage="sowing", share="0.25"), Tranche(stage="growing", share="0.40"),
                          Tranche(stage="harvest", share="0.35"))},
    green_per_tonne_minor=50_000, caps=Caps(customer_minor=2_000_000, household_minor=3_000_000,
                                            segment_minor=100_000_000),
    round_down_to_minor=100,
)


def _limit(month: int, segment: str = "farming", co2: float | None = None, exposure: Exposure = Exposure()) -> int:
    request = LimitInput(200_000, 12, month, segment, co2, 50_000_000)
    return credit_limit(LIMITS, request, exposure).amount_minor


def test_seasonal_uplift_and_off_season_warning() -> None:
    assert _limit(6) == 600_000
    assert _limit(3) == 780_000  # +30 % in the peak months
    off = credit_limit(LIMITS, LimitInput(200_000, 12, 12, "farming", None, 50_000_000))
    assert off.amount_minor == 600_000 and off.warnings == ("OFF_SEASON",)
    assert _limit(3, segment="retail") == 600_000


def test_green_incentive_adds_500_per_tonne() -> None:
    assert _limit(6, co2=3.0) == 600_000 + 3 * 50_000
    assert _limit(6, co2=0.0) == 600_000


def test_tranches_split_exactly_by_stage() -> None:
    parts = split_tranches(LIMITS, "farming", 2_000_001)
    assert [stage for stage, _ in parts] == ["sowing", "growing", "harvest"]
    assert sum(amount for _, amount in parts) == 2_000_001
    assert parts[0][1] == 500_000 and parts[1][1] == 800_000
    assert split_tranches(LIMITS, "retail", 1000) == ()


def test_caps_per_customer_household_and_segment() -> None:
    big = LimitInput(5_000_000, 12, 6, "retail", None, 50_000_000)
    assert credit_limit(LIMITS, big).binding_cap == "customer"
    assert credit_limit(LIMITS, big).amount_minor == 2_000_000
    household = credit_limit(LIMITS, big, Exposure(household_minor=2_500_000))
    assert (household.amount_minor, household.binding_cap) == (500_000, "household")
    segment = credit_limit(LIMITS, big, Exposure(segment_minor=99_900_000))
    assert (segment.amount_minor, segment.binding_cap) == (100_000, "segment")
    assert credit_limit(LIMITS, big, Exposure(customer_minor=3_000_000)).amount_minor == 0


def test_batch_limits_equal_the_one_row_limits() -> None:
    rng = np.random.default_rng(2)
    n = 1000
    income = np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2_000_000, n).astype(float))
    term = rng.integers(3, 36, n)
    month = rng.integers(1, 13, n)
    segment = rng.choice(["farming", "retail"], n).astype(object)
    co2 = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 10, n))
    batch = credit_limit_batch(LIMITS, income, term, month, segment, co2, np.full(n, 50_000_000))
    for i in range(n):
        request = LimitInput(None if np.isnan(income[i]) else int(income[i]), int(term[i]), int(month[i]),
                             str(segment[i]), None if np.isnan(co2[i]) else float(co2[i]), 50_000_000)
        assert credit_limit(LIMITS, request).amount_minor == batch[i]


def test_policy_sections_refuse_floats_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match="exact decimals"):
        PricingPolicy(cost_of_funds=0.1, operating_cost="0", margin="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extra"):
        PricingPolicy.model_validate({"cost_of_funds": "0.1", "operating_cost": "0", "margin": "0", "oops": 1})
    with pytest.raises(ValueError, match="sum to 1"):
        LimitPolicy(income="x", multiplier="1", tranches={"f": (Tranche(stage="a", share="0.5"),)})
