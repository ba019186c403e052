"""Internal rate of return and the APR a lender must disclose (年化利率, IRR method).

The periodic IRR r solves sum(cf_t / (1 + r)^t) = 0 over equally spaced cash flows; the APR by the
IRR method is r × periods per year (a nominal annual rate, as the PBOC's 2021 notice on annualized
rate disclosure prescribes). Cash flows are integer minor units; the rate is a Decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from lendstack.money.errors import MoneyError

_ITERATIONS_MAX = 200  # bisection halves the bracket each time: 200 steps is far below 1e-30
_TOLERANCE = Decimal("1e-20")


def _npv(rate: Decimal, flows: Sequence[int]) -> Decimal:
    total = Decimal(0)
    factor = Decimal(1)
    step = Decimal(1) / (Decimal(1) + rate)
    for flow in flows:
        total += Decimal(flow) * factor
        factor *= step
    return total


def irr_periodic(flows_minor: Sequence[int]) -> Decimal:
    """Periodic IRR of equally spaced flows; flows[0] is the lender's outlay (negative).

    Bisection in Decimal on (-0.99, 10): slower than Newton but it cannot diverge, and a
    schedule has at most a few hundred flows.
    """
    if len(flows_minor) < 2:
        raise MoneyError("cash_flows", "need at least two cash flows")
    if not any(f < 0 for f in flows_minor) or not any(f > 0 for f in flows_minor):
        raise MoneyError("cash_flows", "need both an outflow and an inflow to have an IRR")
    with localcontext() as ctx:
        ctx.prec = 40
        low, high = Decimal("-0.99"), Decimal(10)
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


def apr_by_irr(flows_minor: Sequence[int], periods_per_year: int) -> Decimal:
    """Nominal APR by the IRR method, to 1e-8 (0.000001 %)."""
    if periods_per_year <= 0:
        raise MoneyError("periods_per_year", f"must be positive, got {periods_per_year}")
    periodic = irr_periodic(flows_minor)
    return (periodic * periods_per_year).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
