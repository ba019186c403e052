"""Risk-based pricing: annual rate = cost of funds + expected loss (PD × LGD) + operating cost +
margin + grade adjustment, rounded half-up to 6 places and clamped to the product's band and legal cap.

The arithmetic is integer (units of 1e-14) so the one-row and the vectorized paths agree exactly:
PD is first rounded to 8 places (`pd_units`), LGD and the other components have ≤ 6 places.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from lendstack.pricing.policy import PricingPolicy
from lendstack.products import LoanProduct

IntArray = npt.NDArray[np.int64]
PD_SCALE = 10**8  # PD is carried as an integer count of 1e-8
_RATE_SCALE = 10**6
_UNIT = 10**14  # PD (1e-8) × LGD (1e-6)
_TO_RATE = _UNIT // _RATE_SCALE


def pd_units(pd: float) -> int:
    """PD as an integer count of 1e-8 (the same rounding as `pd_units_batch`)."""
    assert 0.0 <= pd <= 1.0, f"PD {pd} outside [0, 1]"
    return int(np.rint(np.float64(pd) * PD_SCALE))


def pd_units_batch(pd: npt.NDArray[np.float64]) -> IntArray:
    return np.rint(np.asarray(pd, dtype=np.float64) * PD_SCALE).astype(np.int64)


def _units(value: Decimal) -> int:
    scaled = value * _UNIT
    assert scaled == scaled.to_integral_value(), f"{value} has more than 14 places"
    return int(scaled)


@dataclass(frozen=True)
class RateQuote:
    """The rate and every component that made it (explained pricing)."""

    rate_annual: Decimal
    cost_of_funds: Decimal
    expected_loss: Decimal
    operating_cost: Decimal
    margin: Decimal
    grade_adjustment: Decimal
    unclamped: Decimal
    clamped_by: str  # "" | "rate_min" | "rate_max" | "legal_cap"

    def components(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in (
            "cost_of_funds", "expected_loss", "operating_cost", "margin", "grade_adjustment", "unclamped",
            "rate_annual")} | {"clamped_by": self.clamped_by}


def rate_band(product: LoanProduct) -> tuple[int, int]:
    """[low, high] in rate units of 1e-6: the product band, the high end also under the legal cap."""
    low = int(product.rate_min_annual * _RATE_SCALE)
    high = int(min(product.rate_max_annual, product.rate_cap_apr) * _RATE_SCALE)
    assert low <= high, f"product {product.product_id}: rate floor above the cap"
    return low, high


def _fixed_units(policy: PricingPolicy, grade: str) -> int:
    adjustment = policy.grade_adjustments.get(grade, Decimal(0))
    return _units(policy.cost_of_funds + policy.operating_cost + policy.margin + adjustment)


def quote_rate(pd: float, lgd: Decimal, product: LoanProduct, policy: PricingPolicy, grade: str) -> RateQuote:
    """The explained rate for one application."""
    el_units = pd_units(pd) * int(lgd * _RATE_SCALE)
    total = el_units + _fixed_units(policy, grade)
    unclamped = (total + _TO_RATE // 2) // _TO_RATE  # half-up to 1e-6
    low, high = rate_band(product)
    clamped = min(max(unclamped, low), high)
    by = "" if clamped == unclamped else ("rate_min" if clamped == low else _high_reason(product))
    adjustment = policy.grade_adjustments.get(grade, Decimal(0))
    return RateQuote(
        rate_annual=_rate(clamped), cost_of_funds=policy.cost_of_funds,
        expected_loss=(Decimal(el_units) / _UNIT).quantize(Decimal("1e-14")),
        operating_cost=policy.operating_cost, margin=policy.margin, grade_adjustment=adjustment,
        unclamped=_rate(unclamped), clamped_by=by,
    )


def _high_reason(product: LoanProduct) -> str:
    return "legal_cap" if product.rate_cap_apr < product.rate_max_annual else "rate_max"


def _rate(units: int) -> Decimal:
    return (Decimal(units) / _RATE_SCALE).quantize(Decimal("0.000001"))


def risk_based_rate(pd: float, lgd: Decimal, product: LoanProduct, policy: PricingPolicy, grade: str = "") -> Decimal:
    """The annual rate (6 places), clamped; see `quote_rate` for the components."""
    return quote_rate(pd, lgd, product, policy, grade).rate_annual


def rate_units_batch(
    pd: npt.NDArray[np.float64], lgd_units: IntArray, fixed_units: IntArray, low: IntArray, high: IntArray
) -> IntArray:
    """Vectorized `quote_rate(...).rate_annual` in 1e-6 units: lgd in 1e-6, fixed in 1e-14 units."""
    total = pd_units_batch(pd) * lgd_units + fixed_units
    unclamped = (total + _TO_RATE // 2) // _TO_RATE
    return np.asarray(np.minimum(np.maximum(unclamped, low), high), dtype=np.int64)


def fixed_units(policy: PricingPolicy, grade: str) -> int:
    """Cost of funds + operating cost + margin + the grade's adjustment, in 1e-14 units."""
    return _fixed_units(policy, grade)


def lgd_units(lgd: Decimal) -> int:
    return int(lgd * _RATE_SCALE)
