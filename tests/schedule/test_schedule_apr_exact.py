"""The APR is the IRR of the flows the loan will actually have: the whole amount out at t = 0, the
upfront fee billed with installment 1, a broken first period counted by its real length.

Expected values are computed independently in floats (numpy_financial.irr, scipy's brentq, closed
forms). apr_of is quantized to 1e-8, so it is held to those within half a quantum (5e-9); the
unquantized periodic IRR is held to them to 1e-12.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from lendstack.money import MoneyError, apr_by_irr, irr_periodic
from lendstack.schedule import Frequency, Schedule, ScheduleMethod, apr_of, build_schedule
from lendstack.schedule.apr import cash_flows, first_period_periods
from lendstack.schedule.dates import step_date

HALF_QUANTUM = 5e-9  # apr_of rounds to 1e-8
AMOUNT = 10_000_000  # 100,000.00
START = date(2026, 1, 15)


def _schedule(**overrides: Any) -> Schedule:
    arguments: dict[str, Any] = {
        "amount_minor": AMOUNT, "rate_annual": "0.12", "term": 12, "method": "equal_installment", "start": START,
    }
    return build_schedule(**{**arguments, **overrides})


def _npv(flows: Sequence[int], times: Sequence[float], rate: float) -> float:
    return sum(flow * (1.0 + rate) ** -t for flow, t in zip(flows, times, strict=True))


def _brentq_irr(flows: Sequence[int], times: Sequence[float]) -> float:
    """The periodic rate where sum(cf · (1 + r)^−t) = 0, by floats and bracketing, independently."""
    return float(brentq(lambda rate: _npv(flows, times, rate), -0.5, 10.0, xtol=1e-16, rtol=1e-15, maxiter=500))


def _assert_apr(schedule: Schedule, fee_minor: int, expected_periodic: float) -> None:
    flows, times = cash_flows(schedule, fee_minor)
    periodic = irr_periodic(flows, times=times)
    assert abs(float(periodic) - expected_periodic) < 1e-12, (periodic, expected_periodic)
    ppy = schedule.frequency.periods_per_year
    apr = apr_of(schedule, fee_minor)
    assert apr == (periodic * ppy).quantize(Decimal("1e-8"))
    assert abs(float(apr) - expected_periodic * ppy) <= HALF_QUANTUM + 1e-12, (apr, expected_periodic * ppy)


# --- regular schedules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "apr_before"),
    [
        ({}, "0.11999974"),
        ({"method": "equal_principal", "term": 24}, "0.12000008"),
        ({"method": "interest_only"}, "0.12000000"),
        ({"frequency": "biweekly", "term": 26}, "0.11999964"),
        ({"method": "bullet"}, "0.11386552"),
    ],
)
def test_a_regular_schedule_without_fees_keeps_its_apr_exactly(overrides: dict[str, Any], apr_before: str) -> None:
    """The APR before this change (flows at whole periods 0..n, a bullet's zeros in between)."""
    schedule = _schedule(**overrides)
    assert apr_of(schedule) == Decimal(apr_before)
    flows = [-AMOUNT, *([0] * (schedule.term - len(schedule.lines))), *(line.total_minor for line in schedule.lines)]
    assert apr_of(schedule) == apr_by_irr(flows, schedule.frequency.periods_per_year)  # equally spaced, no times
    assert first_period_periods(schedule) == 1


def test_an_upfront_fee_billed_with_installment_1_costs_less_than_one_deducted() -> None:
    schedule, fee = _schedule(), 200_000  # a 2 % fee
    totals = [line.total_minor for line in schedule.lines]
    expected = float(npf.irr([-AMOUNT, totals[0] + fee, *totals[1:]]))
    _assert_apr(schedule, fee, expected)
    # The old figure assumed 砍头息: 98,000 paid out against the same installments. Paying the fee a
    # month later, on the whole 100,000, is cheaper for the borrower, so the APR is lower.
    deducted = apr_by_irr([-(AMOUNT - fee), *totals], 12)
    assert deducted == Decimal("0.15854497")
    assert apr_of(schedule, fee) == Decimal("0.15803663") < deducted
    assert apr_of(schedule, fee) > apr_of(schedule) + Decimal("0.035")  # still ~3.8 points dearer than no fee


# --- broken first periods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "first_due", "first_periods"),
    [
        (date(2026, 1, 15), date(2026, 2, 25), Fraction(41, 31)),  # Jan 15 -> Feb 15 is the regular 31 days
        (date(2026, 1, 15), date(2026, 2, 4), Fraction(20, 31)),  # a short first period
        (date(2026, 2, 10), date(2026, 3, 25), Fraction(43, 28)),  # Feb 10 -> Mar 10 is the regular 28 days
        (date(2028, 2, 10), date(2028, 3, 25), Fraction(44, 29)),  # a leap February
    ],
)
def test_a_broken_first_period_counts_its_real_length(start: date, first_due: date, first_periods: Fraction) -> None:
    schedule = _schedule(start=start, first_due_date=first_due)
    assert first_period_periods(schedule) == first_periods
    t1 = (first_due - start).days / (step_date(start, 1, Frequency.MONTHLY) - start).days
    assert t1 == float(first_periods)
    flows = [-AMOUNT, *(line.total_minor for line in schedule.lines)]
    times = [0.0, *(t1 + k for k in range(len(schedule.lines)))]
    _assert_apr(schedule, 0, _brentq_irr(flows, times))
    one_period_each = apr_by_irr(flows, 12)  # the old APR: the broken period as one full month
    assert abs(apr_of(schedule) - one_period_each) > Decimal("0.001")


def test_the_41_day_first_period_against_the_old_figure() -> None:
    schedule = _schedule(first_due_date=date(2026, 2, 25))
    # 41 days of interest billed as if over one month overstated the APR by 0.6 points.
    assert apr_of(schedule) == Decimal("0.12041358")
    assert apr_by_irr([-AMOUNT, *(line.total_minor for line in schedule.lines)], 12) == Decimal("0.12651725")


def test_a_broken_first_period_with_an_upfront_fee() -> None:
    schedule, fee = _schedule(first_due_date=date(2026, 2, 25)), 150_000
    flows = [-AMOUNT, *(line.total_minor for line in schedule.lines)]
    flows[1] += fee
    _assert_apr(schedule, fee, _brentq_irr(flows, [0.0, *(41 / 31 + k for k in range(12))]))


def test_a_weekly_broken_first_period_counts_in_weeks() -> None:
    schedule = _schedule(frequency="weekly", term=52, first_due_date=START + timedelta(days=10))
    assert first_period_periods(schedule) == Fraction(10, 7)
    flows = [-AMOUNT, *(line.total_minor for line in schedule.lines)]
    _assert_apr(schedule, 0, _brentq_irr(flows, [0.0, *(10 / 7 + k for k in range(52))]))


def test_a_due_day_other_than_the_start_day_is_a_broken_first_period_for_the_apr() -> None:
    """Jan 15 with due_day 31: Feb 28 comes 44 days on, against a regular 31 (the interest is a
    regular period's, as for any schedule without first_due_date)."""
    schedule = _schedule(due_day=31)
    assert schedule.lines[0].due_date == date(2026, 2, 28)
    assert first_period_periods(schedule) == Fraction(44, 31)


# --- bullets ------------------------------------------------------------------------------------


def test_a_multi_period_bullet_sits_term_minus_one_periods_after_the_first_due_date() -> None:
    regular = _schedule(method="bullet")
    total = regular.lines[0].total_minor
    assert total == AMOUNT + 1_200_000  # 12 % simple interest over the year
    _assert_apr(regular, 0, (total / AMOUNT) ** (1 / 12) - 1)  # the installment at t = 12

    broken = _schedule(method="bullet", first_due_date=date(2026, 2, 25))
    assert broken.maturity_date == date(2027, 1, 25) and broken.first_due_date == date(2026, 2, 25)
    t = 41 / 31 + 11
    _assert_apr(broken, 0, (broken.lines[0].total_minor / AMOUNT) ** (1 / t) - 1)
    fee = 100_000
    _assert_apr(broken, fee, ((broken.lines[0].total_minor + fee) / AMOUNT) ** (1 / t) - 1)


def test_a_one_period_bullet_with_a_broken_period() -> None:
    schedule = _schedule(method="bullet", term=1, first_due_date=date(2026, 2, 25))
    total = schedule.lines[0].total_minor
    _assert_apr(schedule, 0, (total / AMOUNT) ** (31 / 41) - 1)


# --- properties ---------------------------------------------------------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Schedule, int]:
    frequency = draw(st.sampled_from(Frequency))
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31)))
    arguments: dict[str, Any] = {
        "amount_minor": draw(st.integers(10_000, 10**10)),
        "rate_annual": Decimal(draw(st.integers(0, 360_000))).scaleb(-6),
        "term": draw(st.integers(1, 60) | st.sampled_from([120, 360])),
        "method": draw(st.sampled_from(ScheduleMethod)),
        "start": start,
        "frequency": frequency,
        "fee_per_period_minor": draw(st.integers(0, 2_000)),
    }
    if draw(st.booleans()):
        span = (step_date(start, 2, frequency) - start).days
        arguments["first_due_date"] = start + timedelta(days=draw(st.integers(1, span - 1)))
    schedule = build_schedule(**arguments)
    return schedule, draw(st.integers(0, schedule.amount_minor // 20))


@settings(max_examples=150, deadline=None)
@given(case=schedules())
def test_apr_is_the_irr_of_the_real_flows(case: tuple[Schedule, int]) -> None:
    schedule, fee = case
    start, first_due = schedule.lines[0].period_start, schedule.first_due_date
    assert first_due is not None
    t1 = (first_due - start).days / (step_date(start, 1, schedule.frequency) - start).days
    skipped = schedule.term - len(schedule.lines)  # a bullet's periods before its one installment
    flows = [-schedule.amount_minor, *(line.total_minor for line in schedule.lines)]
    flows[1] += fee
    times = [0.0, *(t1 + skipped + k for k in range(len(schedule.lines)))]
    if _npv(flows, times, 10.0) > 0:  # e.g. a 5 % fee one day after a payout: above 1000 % a period
        with pytest.raises(MoneyError) as caught:
            apr_of(schedule, fee)
        assert caught.value.field == "cash_flows"
        return
    _assert_apr(schedule, fee, _brentq_irr(flows, times))


@pytest.mark.parametrize("bad", [-1, AMOUNT, True, 1.5, "100"])
def test_the_upfront_fee_must_be_whole_minor_units_below_the_amount(bad: object) -> None:
    with pytest.raises(MoneyError) as caught:
        apr_of(_schedule(), bad)  # type: ignore[arg-type]
    assert caught.value.field == "upfront_fee_minor"
