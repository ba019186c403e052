"""The pricing and limit sections of a credit policy, as frozen pydantic models (unknown keys refused).

Decimals only: a policy file's numbers are read as exact Decimals (the policy loader reads YAML
floats from their text), and floats passed in code are refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_PLACES = 6


def _exact(value: object) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(f"write numbers as exact decimals, not {type(value).__name__}")
    try:
        number = Decimal(str(value))
    except Exception:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if number != round(number, _PLACES):
        raise ValueError(f"at most {_PLACES} decimal places, got {number}")
    return number


Exact = Annotated[Decimal, BeforeValidator(_exact)]
Share = Annotated[Exact, Field(ge=0, le=1)]
NonNegative = Annotated[Exact, Field(ge=0)]
Month = Annotated[int, Field(ge=1, le=12)]
MinorAmount = Annotated[int, Field(strict=True, ge=0)]


class PricingPolicy(BaseModel):
    """annual rate = cost_of_funds + PD × LGD + operating_cost + margin + grade adjustment, clamped."""

    model_config = _FROZEN

    cost_of_funds: NonNegative
    operating_cost: NonNegative
    margin: NonNegative
    lgd_by_collateral: dict[str, Share] = Field(default_factory=dict)
    lgd_default: Share = Decimal("0.85")
    grade_adjustments: dict[str, Exact] = Field(default_factory=dict)

    def lgd(self, collateral: str | None) -> Decimal:
        return self.lgd_by_collateral.get(collateral or "", self.lgd_default)


class TermFactor(BaseModel):
    model_config = _FROZEN

    up_to_months: Annotated[int, Field(ge=1, le=480)]
    factor: NonNegative


class Season(BaseModel):
    """Peak months get `uplift` (0.30 = +30 %); off-season months raise a warning flag."""

    model_config = _FROZEN

    peak_months: tuple[Month, ...] = ()
    off_months: tuple[Month, ...] = ()
    uplift: NonNegative = Decimal(0)

    @model_validator(mode="after")
    def _disjoint(self) -> Season:
        both = set(self.peak_months) & set(self.off_months)
        if both:
            raise ValueError(f"month {min(both)} is both a peak and an off-season month")
        return self


class Tranche(BaseModel):
    model_config = _FROZEN

    stage: Annotated[str, Field(min_length=1)]
    share: Share


class Caps(BaseModel):
    """小额分散: exposure caps (existing exposure + this limit) per customer, household and segment."""

    model_config = _FROZEN

    customer_minor: MinorAmount | None = None
    household_minor: MinorAmount | None = None
    segment_minor: MinorAmount | None = None


class LimitPolicy(BaseModel):
    """limit = k × monthly income × term factor × (1 + seasonal uplift) + green incentive, capped."""

    model_config = _FROZEN

    income: Annotated[str, Field(min_length=1)]  # an expression evaluated by the decision engine
    multiplier: NonNegative
    term_factors: tuple[TermFactor, ...] = (TermFactor(up_to_months=480, factor=Decimal(1)),)
    seasons: dict[str, Season] = Field(default_factory=dict)  # by segment
    tranches: dict[str, tuple[Tranche, ...]] = Field(default_factory=dict)  # by segment
    green_per_tonne_minor: MinorAmount = 0
    caps: Caps = Caps()
    round_down_to_minor: Annotated[int, Field(strict=True, ge=1)] = 100

    @model_validator(mode="after")
    def _consistent(self) -> LimitPolicy:
        bounds = [item.up_to_months for item in self.term_factors]
        if bounds != sorted(set(bounds)):
            raise ValueError("term_factors: up_to_months must be strictly increasing")
        for segment, stages in self.tranches.items():
            if sum(stage.share for stage in stages) != 1:
                raise ValueError(f"tranches.{segment}: shares must sum to 1")
        return self
