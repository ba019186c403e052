"""The columnar path equals the reference path, row by row, to the minor unit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstack.money import MoneyError, RoundingMode
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.schedule import Frequency, ScheduleMethod, build_schedule, build_schedules_batch
from lendstack.schedule.batch import RATE_PPM_MAX, BatchSchedules


def _assert_rows_match(batch: BatchSchedules, amounts: list[int], ppms: list[int]) -> None:
    for row, (amount_minor, ppm) in enumerate(zip(amounts, ppms, strict=True)):
        reference = build_schedule(
            amount_minor=amount_minor,
            rate_annual=Decimal(ppm).scaleb(-6),
            term=batch.term,
            method=batch.method,
            start=date(2026, 1, 31),
            frequency=batch.frequency,
            rounding=batch.rounding,
        )
        columns = (
            batch.principal_minor,
            batch.interest_minor,
            batch.total_minor,
            batch.remaining_principal_minor,
        )
        expected = (
            [line.principal_minor for line in reference.lines],
            [line.interest_minor for line in reference.lines],
            [line.total_minor for line in reference.lines],
            [line.remaining_principal_minor for line in reference.lines],
        )
        assert tuple(column[row].tolist() for column in columns) == expected, (amount_minor, ppm)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.integers(1, 10_000), st.integers(1, AMOUNT_MINOR_MAX)),
            st.one_of(st.just(0), st.integers(0, RATE_PPM_MAX), st.sampled_from([49_000, 144_000, 60_000])),
        ),
        min_size=1,
        max_size=12,
    ),
    term=st.integers(1, 60) | st.just(360),
    method=st.sampled_from(ScheduleMethod),
    frequency=st.sampled_from(Frequency),
    rounding=st.sampled_from(RoundingMode),
)
def test_batch_equals_reference(
    rows: list[tuple[int, int]],
    term: int,
    method: ScheduleMethod,
    frequency: Frequency,
    rounding: RoundingMode,
) -> None:
    amounts, ppms = [a for a, _ in rows], [p for _, p in rows]
    batch = build_schedules_batch(
        np.array(amounts, dtype=np.int64), np.array(ppms, dtype=np.int64), term, method, frequency, rounding
    )
    _assert_rows_match(batch, amounts, ppms)


@pytest.mark.parametrize("rounding", list(RoundingMode))
def test_batch_exact_ties_take_the_exact_path(rounding: RoundingMode) -> None:
    # One month at 6 %: the payment is P × 1.005, exactly on a half for P = 100, 300, 500, ...;
    # float64 lands a hair off the half, so only the exact recomputation rounds these right.
    amounts = [100 + 200 * k for k in range(50)] + [10**12 - 100]
    ppms = [60_000] * len(amounts)
    batch = build_schedules_batch(
        np.array(amounts), np.array(ppms), 1, "equal_installment", "monthly", rounding
    )
    _assert_rows_match(batch, amounts, ppms)
    if rounding is RoundingMode.HALF_UP:
        assert batch.total_minor[0, 0] == 101


def test_batch_extreme_rows_do_not_overflow() -> None:
    amounts = [AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX, 1, 1]
    ppms = [RATE_PPM_MAX, 1, RATE_PPM_MAX, 0]
    for method in ScheduleMethod:
        batch = build_schedules_batch(np.array(amounts), np.array(ppms), 600, method, "weekly", "up")
        _assert_rows_match(batch, amounts, ppms)


def test_batch_shapes() -> None:
    batch = build_schedules_batch(np.array([10**6] * 3), np.array([49_000] * 3), 12, "equal_principal")
    assert batch.principal_minor.shape == (3, 12) and batch.rows == 3
    assert batch.principal_minor.dtype == np.int64
    bullet = build_schedules_batch(np.array([10**6]), np.array([49_000]), 12, "bullet")
    assert bullet.total_minor.shape == (1, 1)


@pytest.mark.parametrize(
    ("amounts", "ppms", "field"),
    [
        ([0], [1], "amounts_minor"),
        ([AMOUNT_MINOR_MAX + 1], [1], "amounts_minor"),
        ([1], [RATE_PPM_MAX + 1], "rates_annual_ppm"),
        ([1], [-1], "rates_annual_ppm"),
        ([1, 2], [1], "rates_annual_ppm"),
        ([1.5], [1], "amounts_minor"),
    ],
)
def test_batch_bad_columns_name_the_field(amounts: list[int], ppms: list[int], field: str) -> None:
    with pytest.raises(MoneyError) as caught:
        build_schedules_batch(np.array(amounts), np.array(ppms), 12, "bullet")
    assert caught.value.field == field


def test_batch_bad_term_and_method_name_the_field() -> None:
    with pytest.raises(MoneyError, match="term") as caught:
        build_schedules_batch(np.array([1]), np.array([1]), 0, "bullet")
    assert caught.value.field == "term"
    with pytest.raises(MoneyError) as caught:
        build_schedules_batch(np.array([1]), np.array([1]), 1, "balloon")
    assert caught.value.field == "method"
