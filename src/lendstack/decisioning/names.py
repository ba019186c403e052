"""The names a policy expression may read, with their types: the application's feature fields (the
application schema's role "feature", `lendstack.origination.schema.FIELDS`, which origination's
`features_row` returns), typed from the schema by `feature_types`, and the values the decision engine
adds, typed here.

Each name has a `NameType`: its kind (number, string, bool, date), whether it is whole, its range
[low, high] and, for a string with a closed list, its levels. The ranges are the schema's bounds,
which the application parser enforces, so every application that parses lies inside them; the
expression checker uses them to prove that no sub-expression can grow past `MAGNITUDE_MAX`, and the
decision engine and the backtest refuse a value outside them (naming the field) so the proof holds
for what they evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from lendstack.invariants import InvariantError
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.origination.schema import COUNT_MAX, FIELDS, SOURCES, FieldSpec

OPTIONAL_FEATURES = ("co2_reduced_tonnes",)  # present for green loans only; null otherwise
# Added by the engine before knockouts: 0 none, 1 info, 2 warn, 3 high, 4 critical.
PRE_SCORE = ("flag_count", "flag_severity_max", "failed_source_count")
# Rules only: knockouts run before the score. `new_instalment_minor` is the monthly payment of the
# loan on offer (the offer amount at the quoted rate over the term), for debt-service-after-the-loan rules.
POST_SCORE = ("pd", "grade", "new_instalment_minor")

FEATURES: tuple[str, ...] = tuple(spec.name for spec in FIELDS if spec.role == "feature")
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


def field_type(spec: FieldSpec) -> NameType:
    """A schema field's type in the policy language: its kind, bounds, closed list and nullability."""
    nullable = spec.optional
    if spec.kind == "date":
        return NameType("date", nullable=nullable)
    if spec.kind == "bool":
        return NameType("bool", nullable=nullable)
    if spec.kind in ("str", "enum"):
        return NameType("string", levels=spec.choices or None, nullable=nullable)
    if spec.low is None or spec.high is None:  # FieldSpec checks that numbers have bounds
        raise InvariantError(f"{spec.name}: a number without bounds")
    if spec.kind == "float":
        return _float(float(spec.high), float(spec.low), nullable)
    # A whole number above an exclusive bound is at least the next one; a bound of 0 is kept as 0.0,
    # as the engine's own names write it.
    low = spec.low + 1 if spec.low_exclusive else spec.low
    return _int(spec.high, low or 0.0, nullable)


def feature_types(fields: tuple[FieldSpec, ...]) -> dict[str, NameType]:
    """The types of the schema's feature fields, by name, in schema order."""
    return {spec.name: field_type(spec) for spec in fields if spec.role == "feature"}


# The names the engine adds (and the green-loan optional feature), typed here.
_ENGINE_TYPES: dict[str, NameType] = {
    "co2_reduced_tonnes": _float(CO2_TONNES_MAX),
    "flag_count": _int(COUNT_MAX, nullable=False),
    "flag_severity_max": _int(max(SEVERITY_RANK.values()), nullable=False),
    "failed_source_count": _int(len(SOURCES), nullable=False),
    "pd": _float(1.0, nullable=False),
    "grade": _label(GRADE_LEVELS),
    "new_instalment_minor": _int(AMOUNT_MINOR_MAX, nullable=False),
}
NAME_TYPES: Mapping[str, NameType] = {**feature_types(FIELDS), **_ENGINE_TYPES}
assert set(NAME_TYPES) == RULE_NAMES, "every name a policy may read is typed, and only those"


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
