"""The columnar schedule builder: many regular-period schedules of one term and method at once.

It must equal `build_schedule` to the minor unit for every row (the tests check it row by row).
Interest is exact integer arithmetic: remaining ≤ 10^12 minor units and a rate ≤ 10^7 ppm make
remaining × ppm ≤ 10^19, which overflows int64 (9.2·10^18) but fits uint64 (1.8·10^19), so the
products are taken in uint64 and divided by periods_per_year × 10^6 with the rounding mode's rule
applied to the integer remainder. Only the annuity payment uses float64 (see _annuity_payment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lendstack.invariants import check
from lendstack.money import MoneyError, RoundingMode
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.money.rates import RATE_ANNUAL_MAX, RATE_PPM
from lendstack.schedule.build import check_term, coerce_enum
from lendstack.schedule.exact import annuity_payment_minor, period_denominator
from lendstack.schedule.methods import Frequency, ScheduleMethod

IntArray = npt.NDArray[np.int64]
_UIntArray = npt.NDArray[np.uint64]
_FloatArray = npt.NDArray[np.float64]
RATE_PPM_MAX = int(RATE_ANNUAL_MAX * RATE_PPM)

# float64 evaluates P·r / (−expm1(−n·log1p(r))) to within ~10 ulps (each of log1p, expm1, ×, ÷
# is correctly rounded or within 1-2 ulps, and log1p/expm1 avoid the cancellation of 1 − (1+r)^−n
# at tiny rates). A row is recomputed exactly when its value lies within this distance of a
# rounding boundary: 1e-6 of a minor unit absolute, plus 1e-13 relative (≈ 450 ulps) because a
# payment of 10^12 minor units has ulps of 10^-4, far coarser than 1e-6.
_BOUNDARY_ABS = 1e-6
_BOUNDARY_REL = 1e-13


@dataclass(frozen=True, eq=False)
class BatchSchedules:
    """int64 arrays of shape (rows, installments); installments = term, or 1 for a bullet."""

    method: ScheduleMethod
    frequency: Frequency
    rounding: RoundingMode
    term: int
    principal_minor: IntArray
    interest_minor: IntArray
    total_minor: IntArray
    remaining_principal_minor: IntArray

    def __post_init__(self) -> None:
        check(bool((self.principal_minor >= 0).all() and (self.interest_minor >= 0).all()),
              "principal and interest parts are not negative")
        check(bool((self.remaining_principal_minor[:, -1] == 0).all()), "every schedule repays its principal in full")

    @property
    def rows(self) -> int:
        return int(self.principal_minor.shape[0])


def build_schedules_batch(
    amounts_minor: IntArray,
    rates_annual_ppm: IntArray,
    term: int,
    method: ScheduleMethod | str,
    frequency: Frequency | str = Frequency.MONTHLY,
    rounding: RoundingMode | str = RoundingMode.HALF_UP,
) -> BatchSchedules:
    """Schedules for each (amount, rate) row; regular periods only (no broken first period, no fee)."""
    amounts, ppm = _check_columns(amounts_minor, rates_annual_ppm)
    term = check_term(term)
    method = coerce_enum(ScheduleMethod, method, "method")
    frequency = coerce_enum(Frequency, frequency, "frequency")
    rounding = coerce_enum(RoundingMode, rounding, "rounding")
    denominator = period_denominator(frequency.periods_per_year)
    if method is ScheduleMethod.BULLET:
        columns = _bullet_columns(amounts, ppm, term, denominator, rounding)
    else:
        level = _level_payment(method, amounts, ppm, term, frequency, rounding)
        columns = _periodic_columns(method, amounts, ppm, term, denominator, rounding, level)
    principal, interest, remaining = columns
    return BatchSchedules(
        method=method,
        frequency=frequency,
        rounding=rounding,
        term=term,
        principal_minor=principal,
        interest_minor=interest,
        total_minor=principal + interest,
        remaining_principal_minor=remaining,
    )


def _check_columns(amounts_minor: IntArray, rates_annual_ppm: IntArray) -> tuple[IntArray, IntArray]:
    amounts = _int_column(amounts_minor, "amounts_minor")
    ppm = _int_column(rates_annual_ppm, "rates_annual_ppm")
    if amounts.shape != ppm.shape:
        raise MoneyError("rates_annual_ppm", f"shape {ppm.shape} differs from amounts {amounts.shape}")
    if amounts.size and (amounts.min() <= 0 or amounts.max() > AMOUNT_MINOR_MAX):
        raise MoneyError("amounts_minor", f"every amount must be in 1..{AMOUNT_MINOR_MAX} minor units")
    if ppm.size and (ppm.min() < 0 or ppm.max() > RATE_PPM_MAX):
        raise MoneyError("rates_annual_ppm", f"every rate must be in 0..{RATE_PPM_MAX} ppm")
    return amounts, ppm


def _int_column(values: IntArray, field: str) -> IntArray:
    array = np.asarray(values)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise MoneyError(field, f"must be a 1-D integer array, got {array.dtype} with shape {array.shape}")
    return array.astype(np.int64, copy=False)


# --- rounding in integers ---------------------------------------------------------------------


def _apply_rounding(
    quotient: IntArray, remainder: IntArray, denominator: int, mode: RoundingMode
) -> IntArray:
    """Round quotient + remainder/denominator (0 ≤ remainder < denominator) to an integer."""
    if mode is RoundingMode.DOWN:
        return quotient
    if mode is RoundingMode.UP:
        return quotient + (remainder > 0)
    twice = 2 * remainder
    if mode is RoundingMode.HALF_UP:
        return quotient + (twice >= denominator)
    check(mode is RoundingMode.HALF_EVEN, "the rounding modes are down, up, half up and half even")
    rounded: IntArray = quotient + ((twice > denominator) | ((twice == denominator) & (quotient % 2 == 1)))
    return rounded


def _divmod_product(amounts: IntArray, ppm: IntArray, denominator: int) -> tuple[IntArray, IntArray]:
    """divmod(amount × ppm, denominator), exact: the product is taken in uint64 (≤ 10^19)."""
    product = amounts.astype(np.uint64) * ppm.astype(np.uint64)
    quotient: _UIntArray = product // np.uint64(denominator)
    remainder: _UIntArray = product - quotient * np.uint64(denominator)
    return quotient.astype(np.int64), remainder.astype(np.int64)


def _interest(remaining: IntArray, ppm: IntArray, denominator: int, mode: RoundingMode) -> IntArray:
    return _apply_rounding(*_divmod_product(remaining, ppm, denominator), denominator, mode)


# --- level payment ----------------------------------------------------------------------------


def _level_payment(
    method: ScheduleMethod,
    amounts: IntArray,
    ppm: IntArray,
    term: int,
    frequency: Frequency,
    rounding: RoundingMode,
) -> IntArray:
    """Mirror of build.level_payment_minor: the annuity, or round(P / n) at a zero rate."""
    even = _apply_rounding(amounts // term, amounts % term, term, rounding)
    if method is not ScheduleMethod.EQUAL_INSTALLMENT:
        return even
    annuity = _annuity_payment(amounts, ppm, term, frequency, rounding)
    return np.where(ppm > 0, annuity, even)


def _annuity_payment(
    amounts: IntArray, ppm: IntArray, term: int, frequency: Frequency, rounding: RoundingMode
) -> IntArray:
    """The rounded annuity in float64, with exact recomputation of rows near a rounding boundary.

    Float64 is ~100× faster than exact integers here, and it is right for every row whose value is
    not within float error of a boundary. Near one, float error could flip the rounding and break
    the batch = reference invariant, so those rows (a few per million) are recomputed exactly.
    """
    ppy = frequency.periods_per_year
    rate = ppm.astype(np.float64) / float(period_denominator(ppy))
    positive = ppm > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value: _FloatArray = amounts * rate / -np.expm1(-term * np.log1p(rate))
    value = np.where(positive, value, 0.0)
    payment, distance = _round_float(value, rounding)
    near = positive & (distance <= _BOUNDARY_ABS + _BOUNDARY_REL * value)
    for row in np.flatnonzero(near):
        payment[row] = annuity_payment_minor(int(amounts[row]), int(ppm[row]), ppy, term, rounding)
    return payment


def _round_float(value: _FloatArray, mode: RoundingMode) -> tuple[IntArray, _FloatArray]:
    """Rounded values (valid away from boundaries) and each value's distance to a boundary."""
    whole = np.floor(value)
    fraction = value - whole
    if mode in (RoundingMode.HALF_UP, RoundingMode.HALF_EVEN):
        # Half-even differs from half-up only exactly on .5, which is always recomputed.
        return (whole + (fraction >= 0.5)).astype(np.int64), np.abs(fraction - 0.5)
    distance = np.minimum(fraction, 1.0 - fraction)
    rounded = whole if mode is RoundingMode.DOWN else whole + (fraction > 0)
    return rounded.astype(np.int64), distance


# --- columns ----------------------------------------------------------------------------------


def _periodic_columns(
    method: ScheduleMethod,
    amounts: IntArray,
    ppm: IntArray,
    term: int,
    denominator: int,
    rounding: RoundingMode,
    level: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Period by period over all rows at once; mirrors build.principal_due_minor."""
    shape = (amounts.shape[0], term)
    principal, interest, remaining_after = (np.empty(shape, dtype=np.int64) for _ in range(3))
    remaining = amounts.copy()
    for k in range(term):
        interest_k = _interest(remaining, ppm, denominator, rounding)
        if k == term - 1:
            principal_k = remaining
        elif method is ScheduleMethod.INTEREST_ONLY:
            principal_k = np.zeros_like(remaining)
        elif method is ScheduleMethod.EQUAL_INSTALLMENT:
            principal_k = np.minimum(np.maximum(level - interest_k, 0), remaining)
        else:
            principal_k = np.minimum(level, remaining)
        remaining = remaining - principal_k
        principal[:, k], interest[:, k], remaining_after[:, k] = principal_k, interest_k, remaining
    return principal, interest, remaining_after


def _bullet_columns(
    amounts: IntArray, ppm: IntArray, term: int, denominator: int, rounding: RoundingMode
) -> tuple[IntArray, IntArray, IntArray]:
    """One installment: round(P × ppm × term / denominator), split so nothing leaves int64."""
    quotient, remainder = _divmod_product(amounts, ppm, denominator)
    # P·ppm·term / D = quotient·term + remainder·term / D, and remainder·term < D·600 is small.
    whole = quotient * term + (remainder * term) // denominator
    interest = _apply_rounding(whole, (remainder * term) % denominator, denominator, rounding)
    zeros = np.zeros((amounts.shape[0], 1), dtype=np.int64)
    return amounts.reshape(-1, 1).copy(), interest.reshape(-1, 1), zeros
