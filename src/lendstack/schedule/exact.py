"""Exact integer arithmetic shared by the reference and the columnar paths.

A validated rate is an exact integer in parts per million (ppm), so a regular period's rate is the
rational ppm / (periods_per_year × 10^6) and every quantity below is a ratio of Python ints,
rounded once with the product's rounding mode. No float and no precision limit is involved.
"""

from __future__ import annotations

from lendstack.invariants import check
from lendstack.money import RoundingMode, div_round
from lendstack.money.rates import RATE_PPM


def round_ratio(numerator: int, denominator: int, rounding: RoundingMode) -> int:
    """numerator / denominator (both ≥ 0) rounded to an integer with the mode (money.div_round)."""
    return div_round(numerator, denominator, rounding)


def period_denominator(periods_per_year: int) -> int:
    """The denominator of a regular period's rate: ppm / (periods_per_year × 10^6)."""
    return periods_per_year * int(RATE_PPM)


def annuity_payment_minor(
    amount_minor: int, rate_ppm: int, periods_per_year: int, term: int, rounding: RoundingMode
) -> int:
    """The equal installment P·r / (1 − (1 + r)^−n), exact, rounded once.

    With r = ppm / D and a = D + ppm, the payment is P·ppm·a^n / (D·(a^n − D^n)): a ratio of ints
    of a few thousand bits even for 600 periods. Being exact (rather than Decimal at a finite
    precision) means a value that is exactly on a half is rounded as the mode says, so the
    reference and the batch path cannot disagree on ties.
    """
    check(amount_minor > 0 and rate_ppm > 0 and term >= 1, "a positive amount and rate, and a term of at least 1")
    denominator = period_denominator(periods_per_year)
    growth = (denominator + rate_ppm) ** term
    numerator = amount_minor * rate_ppm * growth
    return round_ratio(numerator, denominator * (growth - denominator**term), rounding)
