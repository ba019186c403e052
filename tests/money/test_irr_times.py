"""IRR at flow times in periods, fractional ones included (a broken first period)."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstack.money import MoneyError, PeriodTime, apr_by_irr, irr_periodic
from lendstack.money.irr import _irr_by_bisection


@pytest.mark.parametrize(
    ("flows", "before"),
    [
        ([-10_000_000, *([888_488] * 11), 888_495], "0.010000118488119551"),
        ([-100_000_00, *([8_884_88] * 12)], "0.010000020167881247"),
        ([-10_000_000, *([0] * 11), 11_200_000], "0.009488792934582974"),
        ([-(100_000_00 - 3_000_00), *([8_884_88] * 12)], "0.014854118288656417"),
        ([-1000, 0, 0, 500, 0, 700], "0.044965541961565039"),
    ],
)
def test_equally_spaced_flows_keep_their_digits(flows: list[int], before: str) -> None:
    """The periodic IRRs before times existed, to the last of their 18 places."""
    assert irr_periodic(flows) == Decimal(before)
    assert irr_periodic(flows, times=list(range(len(flows)))) == Decimal(before)
    nonzero = [(flow, t) for t, flow in enumerate(flows) if flow]
    assert irr_periodic([f for f, _ in nonzero], times=[t for _, t in nonzero]) == Decimal(before)


@pytest.mark.parametrize(
    ("flows", "times"),
    [
        ([-100, 110], [0, Fraction(1, 2)]),  # (1 + r)^½ = 1.1
        ([-1000, 1331], [0, Fraction(3, 2)]),  # (1 + r)^1.5 = 1.331 = 1.21^1.5
        # Only the gaps matter: 11,000 / 1.1 + 12,100 / 1.21 = 20,000 half a period and one period on.
        ([-20_000, 11_000, 12_100], [Fraction(1, 3), Fraction(5, 6), Fraction(4, 3)]),
    ],
)
def test_fractional_times_by_hand(flows: list[int], times: list[PeriodTime]) -> None:
    assert irr_periodic(flows, times=times) == Decimal("0.21")
    assert apr_by_irr(flows, 12, times=times) == Decimal("2.52")


@st.composite
def flows_and_times(draw: st.DrawFn) -> tuple[list[int], list[PeriodTime]]:
    """A loan's shape: an outlay at 0, then inflows from a fractional first time, a period apart;
    or inflows at any times at all, in any order. One sign change in time order: one root."""
    outlay = draw(st.integers(1, 10**10))
    inflows = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=60))
    denominator = draw(st.integers(1, 31))
    if draw(st.booleans()):
        first = Fraction(draw(st.integers(1, 2 * denominator)), denominator)
        return [-outlay, *inflows], [0, *(first + k for k in range(len(inflows)))]
    times = [Fraction(draw(st.integers(0, 120 * denominator)), denominator) for _ in inflows]
    return [-outlay, *inflows], [0, *times]


@settings(max_examples=150, deadline=None)
@given(case=flows_and_times())
def test_irr_at_fractional_times_matches_the_bisection_reference(case: tuple[list[int], list[PeriodTime]]) -> None:
    flows, times = case
    try:
        expected = _irr_by_bisection(flows, times=times)
    except MoneyError as err:
        with pytest.raises(MoneyError) as fast_err:
            irr_periodic(flows, times=times)
        assert fast_err.value.field == err.field == "cash_flows"
        return
    got = irr_periodic(flows, times=times)
    assert abs(got - expected) <= Decimal("1e-17"), (got, expected)


@given(st.integers(1, 10**10), st.lists(st.integers(0, 10**9), min_size=1, max_size=60), st.randoms())
def test_order_and_splitting_of_flows_do_not_matter(outlay: int, inflows: list[int], rng: random.Random) -> None:
    """Flows at one time add up, in any order: the same digits."""
    flows = [-outlay, *inflows]
    times: list[PeriodTime] = [0, *(Fraction(41 + 31 * k, 31) for k in range(len(inflows)))]
    try:
        expected = irr_periodic(flows, times=times)
    except MoneyError:
        return
    split = [*flows, 0, -1, 1]  # a zero anywhere, and −1 and +1 at the same time
    split_times = [*times, Fraction(7, 3), Fraction(72, 31), Fraction(72, 31)]
    order = list(range(len(split)))
    rng.shuffle(order)
    assert irr_periodic([split[i] for i in order], times=[split_times[i] for i in order]) == expected


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ([0], "times"),
        ([0, 1, 2], "times"),
        ([-1, 1], "times[0]"),
        ([0, Fraction(-1, 2)], "times[1]"),
        ([0, 1.5], "times[1]"),
        ([0, True], "times[1]"),
        ([0, Decimal("1.5")], "times[1]"),
        ([0, "1"], "times[1]"),
        ([0, 100_001], "times[1]"),
        ([0, Fraction(200_001, 2)], "times[1]"),
    ],
)
def test_bad_times_name_the_field(times: list[object], field: str) -> None:
    with pytest.raises(MoneyError) as caught:
        irr_periodic([-100, 110], times=times)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_flows_at_one_time_add_up_before_the_check() -> None:
    with pytest.raises(MoneyError) as caught:
        irr_periodic([-100, 100, 5], times=[0, 0, 0])
    assert caught.value.field == "cash_flows"
    with pytest.raises(MoneyError) as caught:
        irr_periodic([-100, 100, -5, 5], times=[0, 0, Fraction(1, 2), Fraction(1, 2)])
    assert caught.value.field == "cash_flows"
    assert irr_periodic([-100, 60, -10, 60], times=[0, 1, 1, 1]) == irr_periodic([-100, 110])
