"""Internal rate of return and the APR a lender must disclose (年化利率, IRR method).

The periodic IRR r solves sum(cf_k / (1 + r)^t_k) = 0, t_k being flow k's time in regular periods
(0, 1, 2, ... by default; fractional for a broken first period, e.g. 41/31); the APR by the IRR
method is r × periods per year (a nominal annual rate, as the PBOC's 2021 notice on annualized rate
disclosure prescribes). Cash flows are integer minor units; times are int or Fraction; the rate is
a Decimal.

Flows are grouped by the fractional part f of their times: NPV = sum over f of v^f · P_f(v), with
v = 1 / (1 + r) and P_f a polynomial in v over the whole parts, evaluated by repeated
multiplication exactly as equally spaced flows always were (so those keep their digits to the
last). v^f = exp(f · ln v) at 40 digits costs one exp per distinct f and rate, and one full ln per
search: the later rates, all within 2e-9 of the first, add a few terms of ln(1 + δ) to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from lendstack.invariants import check
from lendstack.money.errors import MoneyError

_PRECISION = 40  # significant digits of every exact NPV
_ITERATIONS_MAX = 200  # bisection halves the bracket each time: 200 steps is far below 1e-30
_TOLERANCE = Decimal("1e-20")
_BRACKET_LOW, _BRACKET_HIGH = Decimal("-0.99"), Decimal(10)
_FLOAT_ITERATIONS_MAX = 60  # float Newton from 1 %: a loan's IRR converges in under ten
_GUESS_HALF_WIDTH = Decimal("1e-9")  # a float guess is good to ~1e-12; the bracket around it is checked
_TIME_MAX = 100_000  # periods: 1,900 years of weeks, and it bounds the dense coefficient lists
_ANCHOR_REACH = Decimal("1e-6")  # rates this near a known ln(1 + rate) take a short series instead
_SERIES_FLOOR = Decimal("1e-46")  # the series stops below this: v^f = exp(f · ln v) ≈ 1 needs ln v to 1e-40
_ONE = Decimal(1)

PeriodTime = int | Fraction  # a flow's time in regular periods after t = 0


@dataclass(frozen=True, slots=True)
class _Group:
    """The flows whose times share one fractional part: coefficients[w] is the flow at w + fraction."""

    fraction: Decimal  # 0 ≤ fraction < 1, at the module's precision
    fraction_float: float
    coefficients: tuple[int, ...]


def _groups(flows_minor: Sequence[int], times: Sequence[PeriodTime] | None) -> tuple[_Group, ...]:
    """Validated flows grouped by their times' fractional parts, whole times first; built inside the
    module's Decimal context. times None means 0, 1, 2, ... (equally spaced): one group."""
    _check_flows(flows_minor)
    if times is None:
        return (_Group(Decimal(0), 0.0, tuple(flows_minor)),)
    if len(times) != len(flows_minor):
        raise MoneyError("times", f"need one time per cash flow: {len(times)} times for {len(flows_minor)} flows")
    whole_times = [time for time in times if type(time) is int]  # not bool, not Fraction
    if len(whole_times) == len(times) and min(whole_times) >= 0 and max(whole_times) <= _TIME_MAX:
        groups: tuple[_Group, ...] = (_Group(Decimal(0), 0.0, _whole_coefficients(flows_minor, whole_times)),)
    else:
        groups = _fractional_groups(flows_minor, _split_times(times))
    _check_net_flows([flow for group in groups for flow in group.coefficients])
    return groups


def _fractional_groups(flows_minor: Sequence[int], parts: Sequence[tuple[int, int, int]]) -> tuple[_Group, ...]:
    """One group per fractional part (remainder / denominator), in increasing order."""
    dense: dict[tuple[int, int], list[int]] = {}
    for flow, (whole, remainder, denominator) in zip(flows_minor, parts, strict=True):
        coefficients = dense.setdefault((remainder, denominator), [])
        if len(coefficients) <= whole:
            coefficients.extend([0] * (whole + 1 - len(coefficients)))
        coefficients[whole] += flow
    return tuple(
        _Group(Decimal(num) / Decimal(den), num / den, tuple(dense[num, den]))
        for num, den in sorted(dense, key=lambda key: key[0] / key[1])  # ties only sum in another order
    )


def _whole_coefficients(flows_minor: Sequence[int], times: Sequence[int]) -> tuple[int, ...]:
    """coefficients[t] = the sum of the flows at whole time t."""
    coefficients = [0] * (max(times) + 1)
    for flow, time in zip(flows_minor, times, strict=True):
        coefficients[time] += flow
    return tuple(coefficients)


def _split_times(times: Sequence[PeriodTime]) -> list[tuple[int, int, int]]:
    """Each time as (whole, remainder, denominator), time = whole + remainder / denominator, in
    integers (Fraction arithmetic would cost more than the NPVs); a whole time has (w, 0, 1).
    Each must be an int or a Fraction in 0.._TIME_MAX periods."""
    parts = []
    for index, time in enumerate(times):
        if type(time) is int and 0 <= time <= _TIME_MAX:  # the usual case, first and fast
            parts.append((time, 0, 1))
            continue
        if isinstance(time, bool) or not isinstance(time, int | Fraction):
            raise MoneyError(f"times[{index}]", f"must be an int or a Fraction of periods, got {time!r}")
        numerator, denominator = time.numerator, time.denominator  # lowest terms, denominator > 0
        if not 0 <= numerator <= _TIME_MAX * denominator:
            raise MoneyError(f"times[{index}]", f"must be in 0..{_TIME_MAX} periods, got {time}")
        whole, remainder = divmod(numerator, denominator)
        parts.append((whole, remainder, denominator) if remainder else (whole, 0, 1))
    return parts


@dataclass(frozen=True, slots=True)
class _LogAnchor:
    """ln(1 + rate) at one rate: an exact search's later rates all lie within 2e-9 of it."""

    rate: Decimal
    log: Decimal


def _anchor_at(rate: Decimal, groups: Sequence[_Group]) -> _LogAnchor | None:
    """An anchor at `rate` when some time is fractional (whole times need no ln at all)."""
    return _LogAnchor(rate, (Decimal(1) + rate).ln()) if _has_fractions(groups) else None


def _has_fractions(groups: Sequence[_Group]) -> bool:
    return len(groups) > 1 or bool(groups[0].fraction)


def _log_one_plus(rate: Decimal, anchor: _LogAnchor | None) -> Decimal:
    """ln(1 + rate). Near the anchor, ln(1 + a) + ln(1 + δ) with δ = (rate − a) / (1 + a) and
    ln(1 + δ) = δ − δ²/2 + δ³/3 − …: |δ| ≤ 1e-4, so a dozen terms at most, five for a 2e-9 bracket,
    against a full ln that costs as much as the rest of a 12-period NPV."""
    if anchor is None or abs(rate - anchor.rate) > _ANCHOR_REACH:
        return (Decimal(1) + rate).ln()
    delta = (rate - anchor.rate) / (Decimal(1) + anchor.rate)
    series, power, k = Decimal(0), delta, 1
    while abs(power) > _SERIES_FLOOR:
        series += power / k if k % 2 else -power / k
        power *= delta
        k += 1
    return anchor.log + series


def _powers(rate: Decimal, groups: Sequence[_Group], anchor: _LogAnchor | None) -> list[Decimal]:
    """v ** f per group, v = 1 / (1 + rate): 1 for whole times, else exp(f · ln v), one ln for all."""
    if not _has_fractions(groups):
        return [_ONE]
    log_step = -_log_one_plus(rate, anchor)
    return [(group.fraction * log_step).exp() if group.fraction else _ONE for group in groups]


def _npv(rate: Decimal, groups: Sequence[_Group], anchor: _LogAnchor | None = None) -> Decimal:
    step = Decimal(1) / (Decimal(1) + rate)
    total = Decimal(0)
    for group, power in zip(groups, _powers(rate, groups, anchor), strict=True):
        value = _polynomial(step, group.coefficients)
        total += value * power if group.fraction else value
    return total


def _npv_and_slope(rate: Decimal, groups: Sequence[_Group], anchor: _LogAnchor | None) -> tuple[Decimal, Decimal]:
    """NPV at `rate` and its derivative d NPV / d rate. For one group, d (v^f · P) / d rate =
    v^f · (P' − f · v · P), since d v^f / d rate = −f · v^f · v."""
    step = Decimal(1) / (Decimal(1) + rate)
    total, slope = Decimal(0), Decimal(0)
    for group, power in zip(groups, _powers(rate, groups, anchor), strict=True):
        value, value_slope = _polynomial_and_slope(step, group.coefficients)
        if group.fraction:
            value_slope = power * (value_slope - group.fraction * step * value)
            value *= power
        total += value
        slope += value_slope
    return total, slope


def _polynomial(step: Decimal, coefficients: Sequence[int]) -> Decimal:
    """sum(c_t · step^t), by repeated multiplication."""
    total = Decimal(0)
    factor = Decimal(1)
    for flow in coefficients:
        total += Decimal(flow) * factor
        factor *= step
    return total


def _polynomial_and_slope(step: Decimal, coefficients: Sequence[int]) -> tuple[Decimal, Decimal]:
    """The polynomial and its derivative with respect to the rate (step = 1 / (1 + rate))."""
    total, slope = Decimal(0), Decimal(0)
    factor = Decimal(1)
    for t, flow in enumerate(coefficients):
        term = Decimal(flow) * factor
        total += term
        slope -= t * term * step
        factor *= step
    return total, slope


def _float_npv_and_slope(rate: float, groups: Sequence[_Group]) -> tuple[float, float]:
    """_npv_and_slope in floats."""
    step, total, slope = 1.0 / (1.0 + rate), 0.0, 0.0
    for group in groups:
        value, value_slope, factor = 0.0, 0.0, 1.0
        for t, flow in enumerate(group.coefficients):
            term = flow * factor
            value += term
            value_slope -= t * term * step
            factor *= step
        if group.fraction:
            power = step**group.fraction_float
            value_slope = power * (value_slope - group.fraction_float * step * value)
            value *= power
        total += value
        slope += value_slope
    return total, slope


def _float_guess(groups: Sequence[_Group]) -> float | None:
    """Newton's method in floats: a start for the exact search, or None if it wandered off."""
    rate = 0.01
    for _ in range(_FLOAT_ITERATIONS_MAX):
        if not -0.99 < rate < 10.0:
            return None
        total, slope = _float_npv_and_slope(rate, groups)
        if slope == 0.0 or not math.isfinite(total) or not math.isfinite(slope):
            return None
        change = total / slope
        rate -= change
        if abs(change) < 1e-14:
            return rate if -0.99 < rate < 10.0 else None
    return None


def _bracket(groups: Sequence[_Group]) -> tuple[Decimal, Decimal, Decimal, _LogAnchor | None]:
    """(low, high, NPV at low, log anchor) with a sign change between low and high: a tight one
    around the float guess when the exact NPVs confirm it, else the whole search range."""
    guess = _float_guess(groups)
    if guess is not None:
        centre = Decimal(repr(guess))
        low, high = centre - _GUESS_HALF_WIDTH, centre + _GUESS_HALF_WIDTH
        if low > _BRACKET_LOW and high < _BRACKET_HIGH:
            anchor = _anchor_at(centre, groups)
            npv_low, npv_high = _npv(low, groups, anchor), _npv(high, groups, anchor)
            if npv_low == 0:
                return low, low, npv_low, anchor
            if npv_high == 0:
                return high, high, npv_high, anchor
            if (npv_low < 0) != (npv_high < 0):
                return low, high, npv_low, anchor
    npv_low = _npv(_BRACKET_LOW, groups)
    if npv_low * _npv(_BRACKET_HIGH, groups) > 0:
        raise MoneyError("cash_flows", "no IRR in (-99 %, 1000 %) per period")
    return _BRACKET_LOW, _BRACKET_HIGH, npv_low, None


def irr_periodic(flows_minor: Sequence[int], *, times: Sequence[PeriodTime] | None = None) -> Decimal:
    """Periodic IRR; flows[0] is the lender's outlay (negative). `times` are the flows' times in
    regular periods, int or Fraction in 0..100,000 (flows at one time add up); None means 0, 1, 2, ...
    Whole times give the digits equally spaced flows with zeros in the gaps give.

    Exact search in Decimal inside a bracket with a sign change, so it cannot diverge: Newton steps
    while they stay inside the bracket, halving otherwise (rtsafe). A float Newton guess, checked in
    Decimal, narrows the bracket to 2e-9 first, so a loan's IRR takes a handful of exact NPVs rather
    than seventy (the decision endpoint checks an APR on every offer). `_irr_by_bisection` is the
    plain reference it is tested against.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        groups = _groups(flows_minor, times)
        low, high, npv_low, anchor = _bracket(groups)
        rate = (low + high) / 2
        for _ in range(_ITERATIONS_MAX):
            if high - low < _TOLERANCE:
                break
            npv, slope = _npv_and_slope(rate, groups, anchor)
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
        check(low <= high, "the bracket never inverts")
        return ((low + high) / 2).quantize(Decimal("1e-18"), rounding=ROUND_HALF_EVEN)


def _irr_by_bisection(flows_minor: Sequence[int], *, times: Sequence[PeriodTime] | None = None) -> Decimal:
    """The reference: bisection over the whole range, ~70 exact NPVs. Tests hold irr_periodic to it."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        groups = _groups(flows_minor, times)
        low, high = _BRACKET_LOW, _BRACKET_HIGH
        npv_low = _npv(low, groups)
        if npv_low * _npv(high, groups) > 0:
            raise MoneyError("cash_flows", "no IRR in (-99 %, 1000 %) per period")
        for _ in range(_ITERATIONS_MAX):
            mid = (low + high) / 2
            npv_mid = _npv(mid, groups)
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


def _check_net_flows(net_flows_minor: Sequence[int]) -> None:
    """Flows at one time add up: -100 and +100 both at t = 0 leave nothing to discount."""
    if not any(f < 0 for f in net_flows_minor) or not any(f > 0 for f in net_flows_minor):
        raise MoneyError("cash_flows", "need both an outflow and an inflow, once the flows at each time add up")


def apr_by_irr(
    flows_minor: Sequence[int], periods_per_year: int, *, times: Sequence[PeriodTime] | None = None
) -> Decimal:
    """Nominal APR by the IRR method, to 1e-8 (0.000001 %): the periodic IRR × periods_per_year."""
    if periods_per_year <= 0:
        raise MoneyError("periods_per_year", f"must be positive, got {periods_per_year}")
    periodic = irr_periodic(flows_minor, times=times)
    return (periodic * periods_per_year).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
