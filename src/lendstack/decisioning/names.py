"""The names a policy expression may read, with their types: the application's feature columns (the
simulator's `FIELDS` with role "feature", which origination's `features_row` returns; a test checks
the two lists and their types agree) and the values the decision engine adds.

Each name has a `NameType`: its kind (number, string, bool, date), whether it is whole, its range
[low, high] and, for a string with a closed list, its levels. The ranges are the bounds the
application parser enforces (origination.parsing), so every application that parses lies inside
them; the expression checker uses them to prove that no sub-expression can grow past
`MAGNITUDE_MAX`, and the decision engine and the backtest refuse a value outside them (naming the
field) so the proof holds for what they evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.origination.application import APPLICANT_TYPES, SOURCES
from lendstack.origination.parsing import (
    AGE_MAX_YEARS,
    AGE_MIN_YEARS,
    COLLATERALS,
    COUNT_MAX,
    DAYS_MAX,
    KM_MAX,
    MONTHS_MAX,
    RATIO_MAX,
    REGIONS,
    SEGMENTS,
    TERM_MAX_MONTHS,
)

FEATURES = (
    "applied_on", "applicant_type", "segment", "region", "age", "monthly_income_minor", "debt_to_income",
    "inquiries_6m", "open_loans_elsewhere", "past_delinquencies_24m", "bureau_score", "months_since_oldest_account",
    "annual_tax_paid_minor", "tax_filing_months", "invoice_revenue_12m_minor", "invoice_count_12m",
    *(f"revenue_m{k:02d}_minor" for k in range(1, 13)),
    "revenue_mean_12m_minor", "revenue_volatility", "orders_12m", "vehicle_value_minor", "mileage_km_30d",
    "night_driving_share", "region_exits_30d", "device_age_days", "device_changes_90d", "app_sessions_30d",
    "night_edits_share", "gps_distance_km", "declared_monthly_revenue_minor", "requested_amount_minor",
    "requested_term_months", "purpose", "collateral",
)
OPTIONAL_FEATURES = ("co2_reduced_tonnes",)  # present for green loans only; null otherwise
# Added by the engine before knockouts: 0 none, 1 info, 2 warn, 3 high, 4 critical.
PRE_SCORE = ("flag_count", "flag_severity_max", "failed_source_count")
# Rules only: knockouts run before the score. `new_instalment_minor` is the monthly payment of the
# loan on offer (the offer amount at the quoted rate over the term), for debt-service-after-the-loan rules.
POST_SCORE = ("pd", "grade", "new_instalment_minor")

KNOCKOUT_NAMES = frozenset((*FEATURES, *OPTIONAL_FEATURES, *PRE_SCORE))
RULE_NAMES = frozenset((*KNOCKOUT_NAMES, *POST_SCORE))
SEVERITY_RANK = {"info": 1, "warn": 2, "high": 3, "critical": 4}
GRADE_LEVELS = ("A", "B", "C", "D", "E")

# Every integer up to 2**53 is exact in a float64, so Python's int/float arithmetic (the online row)
# and polars' Int64/Float64 arithmetic (the backtest) agree on every value below it; polars' Int64
# wraps at 2**63 while Python's ints never overflow, so a bigger value would make the two disagree.
MAGNITUDE_MAX = float(2**53)
CO2_TONNES_MAX = 1e6  # per loan; a green incentive for more is an input error

Kind = Literal["number", "string", "bool", "date"]


@dataclass(frozen=True)
class NameType:
    """The static type of a name (or a sub-expression): kind, range, whole or not, levels, nullable."""

    kind: Kind
    low: float = 0.0
    high: float = 0.0
    integral: bool = False
    levels: tuple[str, ...] | None = None  # a closed list of values, for strings
    nullable: bool = True

    def __post_init__(self) -> None:
        assert self.low <= self.high, f"empty range [{self.low}, {self.high}]"

    @property
    def magnitude(self) -> float:
        return max(abs(self.low), abs(self.high))


def _int(high: float, low: float = 0.0, nullable: bool = True) -> NameType:
    return NameType("number", low, high, integral=True, nullable=nullable)


def _float(high: float, low: float = 0.0, nullable: bool = True) -> NameType:
    return NameType("number", low, high, integral=False, nullable=nullable)


def _label(levels: tuple[str, ...] | None) -> NameType:
    return NameType("string", levels=levels, nullable=False)


_MONEY = _int(AMOUNT_MINOR_MAX)
_COUNT = _int(COUNT_MAX)
_SHARE = _float(1.0)
_BY_NAME: dict[str, NameType] = {
    "applied_on": NameType("date", nullable=False),
    "applicant_type": _label(APPLICANT_TYPES),
    "segment": _label(SEGMENTS),
    "region": _label(REGIONS),
    "age": _int(AGE_MAX_YEARS, AGE_MIN_YEARS, nullable=False),
    "debt_to_income": _float(RATIO_MAX),
    "bureau_score": _int(1000),
    "months_since_oldest_account": _int(MONTHS_MAX),
    "tax_filing_months": _int(MONTHS_MAX),
    "revenue_volatility": _float(RATIO_MAX),
    "mileage_km_30d": _float(KM_MAX),
    "night_driving_share": _SHARE,
    "device_age_days": _int(DAYS_MAX),
    "night_edits_share": _SHARE,
    "gps_distance_km": _float(KM_MAX),
    "requested_amount_minor": _int(AMOUNT_MINOR_MAX, 1, nullable=False),
    "requested_term_months": _int(TERM_MAX_MONTHS, 1, nullable=False),
    "purpose": _label(None),
    "collateral": _label(COLLATERALS),
    "co2_reduced_tonnes": _float(CO2_TONNES_MAX),
    "flag_count": _int(COUNT_MAX, nullable=False),
    "flag_severity_max": _int(max(SEVERITY_RANK.values()), nullable=False),
    "failed_source_count": _int(len(SOURCES), nullable=False),
    "pd": _float(1.0, nullable=False),
    "grade": _label(GRADE_LEVELS),
    "new_instalment_minor": _int(AMOUNT_MINOR_MAX, nullable=False),
}


def _default_type(name: str) -> NameType:
    if name.endswith("_minor"):
        return _MONEY
    assert name.endswith(("_6m", "_elsewhere", "_24m", "_12m", "_30d", "_90d")), f"no type for {name}"
    return _COUNT


NAME_TYPES: Mapping[str, NameType] = {name: _BY_NAME.get(name) or _default_type(name) for name in RULE_NAMES}
assert set(_BY_NAME) <= set(NAME_TYPES), "a typed name that policies cannot read"


def value_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be the value of `name` (None if it can): wrong type, NaN, or out of range."""
    kind = NAME_TYPES[name]
    if value is None:
        return None if kind.nullable else "is required (null given)"
    if kind.kind == "date":
        return None if isinstance(value, date) else f"must be a date, got {type(value).__name__}"
    if kind.kind == "string":
        return None if isinstance(value, str) else f"must be text, got {type(value).__name__}"
    if kind.kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {type(value).__name__}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {type(value).__name__}"
    if kind.integral and not isinstance(value, int):
        return f"must be a whole number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if not kind.low <= value <= kind.high:
        return f"must be between {kind.low:g} and {kind.high:g}, got {value!r}"
    return None
