"""Credit limits (授信额度): cash-flow based, seasonal, with a green incentive, staged tranches and
小额分散 exposure caps. Integer minor units throughout; factors are exact Decimals with ≤ 4 places
applied as integers (half-up), so the one-row and the vectorized paths agree to the minor unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from lendstack.pricing.policy import LimitPolicy

IntArray = npt.NDArray[np.int64]
_FACTOR_SCALE = 10_000  # factors are applied in units of 1e-4


@dataclass(frozen=True)
class Exposure:
    """What the lender already has out to this customer, their household and their segment."""

    customer_minor: int = 0
    household_minor: int = 0
    segment_minor: int = 0

    def __post_init__(self) -> None:
        assert min(self.customer_minor, self.household_minor, self.segment_minor) >= 0, "exposure is never negative"


@dataclass(frozen=True)
class LimitInput:
    monthly_income_minor: int | None
    term_months: int
    month: int  # calendar month of the application, 1-12
    segment: str
    co2_reduced_tonnes: float | None = None
    product_max_minor: int | None = None


@dataclass(frozen=True)
class LimitResult:
    amount_minor: int
    components: dict[str, int]
    warnings: tuple[str, ...] = ()
    tranches: tuple[tuple[str, int], ...] = ()  # (stage, amount_minor) of an offer, if staged
    binding_cap: str = ""  # which cap bound the limit, "" if none
    extra: dict[str, str] = field(default_factory=dict)


def factor_units(value: Decimal) -> int:
    scaled = value * _FACTOR_SCALE
    assert scaled == scaled.to_integral_value(), f"factor {value} has more than 4 places"
    return int(scaled)


def _scale(amount_minor: int, units: int) -> int:
    return (amount_minor * units * 2 + _FACTOR_SCALE) // (2 * _FACTOR_SCALE)  # half-up, amounts ≥ 0


def term_factor(policy: LimitPolicy, term_months: int) -> Decimal:
    for item in policy.term_factors:
        if term_months <= item.up_to_months:
            return item.factor
    return policy.term_factors[-1].factor


def _green_minor(policy: LimitPolicy, tonnes: float | None) -> int:
    if tonnes is None or not tonnes > 0 or policy.green_per_tonne_minor == 0:
        return 0
    return math.floor(tonnes * policy.green_per_tonne_minor)


def _caps(policy: LimitPolicy, exposure: Exposure, product_max_minor: int | None) -> list[tuple[str, int]]:
    caps = policy.caps
    found = [("product_max", product_max_minor)]
    found += [("customer", None if caps.customer_minor is None else caps.customer_minor - exposure.customer_minor)]
    found += [("household", None if caps.household_minor is None else caps.household_minor - exposure.household_minor)]
    found += [("segment", None if caps.segment_minor is None else caps.segment_minor - exposure.segment_minor)]
    return [(name, max(value, 0)) for name, value in found if value is not None]


def credit_limit(policy: LimitPolicy, request: LimitInput, exposure: Exposure = Exposure()) -> LimitResult:
    """The limit for one application with its components, warnings and binding cap."""
    warnings: list[str] = []
    income = request.monthly_income_minor
    if income is None or income <= 0:
        warnings.append("NO_VERIFIED_INCOME")
        income = 0
    base = _scale(income, factor_units(policy.multiplier))
    by_term = _scale(base, factor_units(term_factor(policy, request.term_months)))
    season = policy.seasons.get(request.segment)
    uplift = season.uplift if season and request.month in season.peak_months else Decimal(0)
    if season and request.month in season.off_months:
        warnings.append("OFF_SEASON")
    seasonal = _scale(by_term, _FACTOR_SCALE + factor_units(uplift))
    green = _green_minor(policy, request.co2_reduced_tonnes)
    cash_flow = seasonal + green
    caps = _caps(policy, exposure, request.product_max_minor)
    binding = min(caps, key=lambda item: item[1], default=("", cash_flow))
    capped = min(cash_flow, binding[1])
    amount = capped // policy.round_down_to_minor * policy.round_down_to_minor
    components = {"income_minor": income, "base_minor": base, "term_adjusted_minor": by_term,
                  "seasonal_uplift_minor": seasonal - by_term, "green_incentive_minor": green,
                  "cash_flow_limit_minor": cash_flow, **{f"cap_{name}_minor": value for name, value in caps}}
    assert 0 <= amount <= cash_flow
    return LimitResult(amount, components, tuple(warnings), binding_cap=binding[0] if capped < cash_flow else "")


def split_tranches(policy: LimitPolicy, segment: str, amount_minor: int) -> tuple[tuple[str, int], ...]:
    """Staged release for production-cycle lending; the last stage absorbs rounding (sum is exact)."""
    stages = policy.tranches.get(segment, ())
    if not stages:
        return ()
    parts = [(stage.stage, int(amount_minor * stage.share)) for stage in stages[:-1]]
    parts.append((stages[-1].stage, amount_minor - sum(value for _, value in parts)))
    assert sum(value for _, value in parts) == amount_minor
    return tuple(parts)


def credit_limit_batch(
    policy: LimitPolicy, income_minor: npt.NDArray[np.float64], term_months: IntArray, month: IntArray,
    segment: npt.NDArray[np.object_], co2_tonnes: npt.NDArray[np.float64], product_max_minor: IntArray,
) -> IntArray:
    """Vectorized `credit_limit(...).amount_minor` with no prior exposure (NaN income = none)."""
    income = np.where(np.isnan(income_minor) | (income_minor <= 0), 0, np.nan_to_num(income_minor)).astype(np.int64)
    base = _scale_batch(income, np.full_like(income, factor_units(policy.multiplier)))
    term_units = np.full_like(income, factor_units(policy.term_factors[-1].factor))
    for item in reversed(policy.term_factors):
        term_units = np.where(term_months <= item.up_to_months, factor_units(item.factor), term_units)
    by_term = _scale_batch(base, term_units)
    uplift = np.full_like(income, _FACTOR_SCALE)
    for name, season in policy.seasons.items():
        peak = (segment == name) & np.isin(month, list(season.peak_months))
        uplift = np.where(peak, _FACTOR_SCALE + factor_units(season.uplift), uplift)
    seasonal = _scale_batch(by_term, uplift)
    green = np.zeros_like(income)
    if policy.green_per_tonne_minor:
        tonnes = np.where(np.isnan(co2_tonnes) | (co2_tonnes <= 0), 0.0, co2_tonnes)
        green = np.floor(tonnes * policy.green_per_tonne_minor).astype(np.int64)
    capped = np.minimum(seasonal + green, product_max_minor)
    for cap in (policy.caps.customer_minor, policy.caps.household_minor, policy.caps.segment_minor):
        if cap is not None:
            capped = np.minimum(capped, cap)
    return np.asarray(capped // policy.round_down_to_minor * policy.round_down_to_minor, dtype=np.int64)


def _scale_batch(amount: IntArray, units: IntArray) -> IntArray:
    return np.asarray((amount * units * 2 + _FACTOR_SCALE) // (2 * _FACTOR_SCALE), dtype=np.int64)
