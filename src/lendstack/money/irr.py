"""Internal rate of return and the APR a lender must disclose (年化利率, IRR method).

The periodic IRR r solves sum(cf_t / (1 + r)^t) = 0 over equally spaced cash flows; the APR by the
IRR method is r × periods per year (a nominal annual rate, as the PBOC's 2021 notice on annualized
rate disclosure prescribes). Cash flows are integer minor units; the rate is a Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from lendstack.money.errors import MoneyError

_ITERATIONS_MAX = 200  # bisection halves the bracket each time: 200 steps is far below 1e-30
_TOLERANCE = Decimal("1e-20")
_BRACKET_LOW, _BRACKET_HIGH = Decimal("-0.99"), Decimal(10)
_FLOAT_ITERATIONS_MAX = 60  # float Newton from 1 %: a loan's IRR converges in under ten
_GUESS_HALF_WIDTH = Decimal("1e-9")  # a float guess is good to ~1e-12; the bracket around it is checked


def _npv(rate: Decimal, flows: Sequence[int]) -> Decimal:
    total = Decimal(0)
    factor = Decimal(1)
    step = Decimal(1) / (Decimal(1) + rate)
    for flow in flows:
        total += Decimal(flow) * factor
        factor *= step
    return total


def _npv_and_slope(rate: Decimal, flows: Sequence[int]) -> tuple[Decimal, Decimal]:
    """NPV at `rate` and its derivative d NPV / d rate, in one pass."""
    total, slope = Decimal(0), Decimal(0)
    factor = Decimal(1)
    step = Decimal(1) / (Decimal(1) + rate)
    for t, flow in enumerate(flows):
        term = Decimal(flow) * factor
        total += term
        slope -= t * term * step
        factor *= step
    return total, slope


def _float_guess(flows: Sequence[int]) -> float | None:
    """Newton's method in floats: a start for the exact search, or None if it wandered off."""
    rate = 0.01
    for _ in range(_FLOAT_ITERATIONS_MAX):
        if not -0.99 < rate < 10.0:
            return None
        step, total, slope, factor = 1.0 / (1.0 + rate), 0.0, 0.0, 1.0
        for t, flow in enumerate(flows):
            term = flow * factor
            total += term
            slope -= t * term * step
            factor *= step
        if slope == 0.0 or not math.isfinite(total) or not math.isfinite(slope):
            return None
        change = total / slope
        rate -= change
        if abs(change) < 1e-14:
            return rate if -0.99 < rate < 10.0 else None
    return None


def _bracket(flows: Sequence[int]) -> tuple[Decimal, Decimal, Decimal]:
    """(low, high, NPV at low) with a sign change between low and high: a tight one around the
    float guess when the exact NPVs confirm it, else the whole search range."""
    guess = _float_guess(flows)
    if guess is not None:
        centre = Decimal(repr(guess))
        low, high = centre - _GUESS_HALF_WIDTH, centre + _GUESS_HALF_WIDTH
        if low > _BRACKET_LOW and high < _BRACKET_HIGH:
            npv_low, npv_high = _npv(low, flows), _npv(high, flows)
            if npv_low == 0:
                return low, low, npv_low
            if npv_high == 0:
                return high, high, npv_high
            if (npv_low < 0) != (npv_high < 0):
                return low, high, npv_low
    npv_low = _npv(_BRACKET_LOW, flows)
    if npv_low * _npv(_BRACKET_HIGH, flows) > 0:
        raise MoneyError("cash_flows", "no IRR in (-99 %, 1000 %) per period")
    return _BRACKET_LOW, _BRACKET_HIGH, npv_low


def irr_periodic(flows_minor: Sequence[int]) -> Decimal:
    """Periodic IRR of equally spaced flows; flows[0] is the lender's outlay (negative).

    Exact search in Decimal inside a bracket with a sign change, so it cannot diverge: Newton steps
    while they stay inside the bracket, halving otherwise (rtsafe). A float Newton guess, checked in
    Decimal, narrows the bracket to 2e-9 first, so a loan's IRR takes a handful of exact NPVs rather
    than seventy (the decision endpoint checks an APR on every offer). `_irr_by_bisection` is the
    plain reference it is tested against.
    """
    _check_flows(flows_minor)
    with localcontext() as ctx:
        ctx.prec = 40
        low, high, npv_low = _bracket(flows_minor)
        rate = (low + high) / 2
        for _ in range(_ITERATIONS_MAX):
            if high - low < _TOLERANCE:
                break
            npv, slope = _npv_and_slope(rate, flows_minor)
            if npv == 0:
                low = high = rate
                break
            if (npv < 0) == (npv_low < 0):
                low, npv_low = rate, npv
            else:
                high = rate
            newton = rate - npv / slope if slope != 0 else low - 1  # an out-of-bracket sentinel
            if low < newton < high and abs(newton - rate) < _TOLERANCE:
                low = high = newton  # converged: Newton's error is now far below the step
                break
            rate = newton if low < newton < high else (low + high) / 2
        assert low <= high
        return ((low + high) / 2).quantize(Decimal("1e-18"), rounding=ROUND_HALF_EVEN)


def _irr_by_bisection(flows_minor: Sequence[int]) -> Decimal:
    """The reference: bisection over the whole range, ~70 exact NPVs. Tests hold irr_periodic to it."""
    _check_flows(flows_minor)
    with localcontext() as ctx:
        ctx.prec = 40
        low, high = _BRACKET_LOW, _BRACKET_HIGH
        npv_low = _npv(low, flows_minor)
        if npv_low * _npv(high, flows_minor) > 0:
            raise MoneyError("cash_flows", "no IRR in (-99 %, 1000 %) per period")
        for _ in range(_ITERATIONS_MAX):
            mid = (low + high) / 2
            npv_mid = _npv(mid, flows_minor)
            if (npv_mid < 0) == (npv_low < 0):
                low, npv_low = mid, npv_mid
            else:
                high = mid
            if high - low < _TOLERANCE:
                break
        return ((low + high) / 2).quantize(Decimal("1e-18"), rounding=ROUND_HALF_EVEN)


def _check_flows(flows_minor: Sequence[int]) -> None:
    if len(flows_minor) < 2:
        raise MoneyError("cash_flows", "need at least two cash flows")
    if not any(f < 0 for f in flows_minor) or not any(f > 0 for f in flows_minor):
        raise MoneyError("cash_flows", "need both an outflow and an inflow to have an IRR")


def apr_by_irr(flows_minor: Sequence[int], periods_per_year: int) -> Decimal:
    """Nominal APR by the IRR method, to 1e-8 (0.000001 %)."""
    if periods_per_year <= 0:
        raise MoneyError("periods_per_year", f"must be positive, got {periods_per_year}")
    periodic = irr_periodic(flows_minor)
    return (periodic * periods_per_year).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
