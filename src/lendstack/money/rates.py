"""Rates as Decimal, rounding modes, rate caps.

Rates carry at most RATE_DECIMAL_PLACES decimal places (0.000001 = 0.0001 %), so a rate is also an
exact integer in parts per million (ppm). The columnar paths compute interest in integers from
that, bit-identical to the Decimal reference path.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum

from lendstack.invariants import InvariantError, check
from lendstack.money.errors import MoneyError, RateCapExceeded

RATE_DECIMAL_PLACES = 6
RATE_PPM = 10**RATE_DECIMAL_PLACES
RATE_ANNUAL_MAX = Decimal(10)  # 1000 %: anything above is a typo, not a product.


class RoundingMode(StrEnum):
    HALF_UP = "half_up"  # 四舍五入, the Chinese banks' default
    HALF_EVEN = "half_even"  # banker's rounding
    DOWN = "down"  # truncate toward zero: favours the borrower
    UP = "up"  # away from zero

    @property
    def decimal_mode(self) -> str:
        return _DECIMAL_MODES[self]


_DECIMAL_MODES = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
}


def round_to_minor(value: Decimal, mode: RoundingMode) -> int:
    """Round a Decimal count of minor units to an int, once, with the product's mode."""
    check(isinstance(value, Decimal), "money arithmetic must stay in Decimal until rounding")
    return int(value.to_integral_value(rounding=mode.decimal_mode))


def parse_rate(value: object, field: str, *, allow_zero: bool = True) -> Decimal:
    """A rate as Decimal from a str/int/Decimal; floats are refused (0.1 is not 0.1)."""
    if isinstance(value, (bool, float)):
        raise MoneyError(field, f"pass rates as decimal strings, not {type(value).__name__}")
    try:
        rate = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except decimal.InvalidOperation as exc:
        raise MoneyError(field, f"not a decimal number: {value!r}") from exc
    if not rate.is_finite():
        raise MoneyError(field, f"not a finite number: {value!r}")
    if rate < 0 or (rate == 0 and not allow_zero):
        raise MoneyError(field, f"must be {'non-negative' if allow_zero else 'positive'}, got {rate}")
    if rate > RATE_ANNUAL_MAX:
        raise MoneyError(field, f"{rate} is above the sanity limit of {RATE_ANNUAL_MAX}")
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_DECIMAL_PLACES), rounding=decimal.ROUND_DOWN):
        raise MoneyError(field, f"at most {RATE_DECIMAL_PLACES} decimal places, got {rate}")
    return rate


def rate_to_ppm(rate: Decimal) -> int:
    """The exact integer parts-per-million of a validated rate."""
    ppm = rate * RATE_PPM
    if ppm != ppm.to_integral_value():
        raise InvariantError(f"rate {rate} has more than {RATE_DECIMAL_PLACES} places")
    return int(ppm)


def check_rate_cap(apr: Decimal, cap: Decimal, field: str = "rate_annual") -> None:
    """Refuse an annualized rate above the cap (e.g. a legal 24 % or a product's own limit)."""
    if apr > cap:
        raise RateCapExceeded(field, f"APR {apr:.4%} exceeds the cap of {cap:.4%}")


def div_round(numerator: int, denominator: int, mode: RoundingMode) -> int:
    """Exact integer numerator / denominator rounded with `mode`, for non-negative numerators.

    The columnar paths do the same in int64 (servicing.columns.div_round_array), so both give
    identical minor units.
    """
    check(denominator > 0 and numerator >= 0, "a positive denominator and a non-negative numerator")
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0 or mode is RoundingMode.DOWN:
        return quotient
    if mode is RoundingMode.UP:
        return quotient + 1
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and (mode is RoundingMode.HALF_UP or quotient % 2 == 1)):
        return quotient + 1
    return quotient
