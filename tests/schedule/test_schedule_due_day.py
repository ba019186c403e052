"""The contract's day of month (due_day): rebuilt schedules keep it; None changes nothing."""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstack.money import MoneyError
from lendstack.schedule import Frequency, ScheduleMethod, build_schedule, due_dates, next_due_on_day
from lendstack.schedule.dates import step_date


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _schedule(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "amount_minor": 1_200_000,
        "rate_annual": "0.12",
        "term": 12,
        "method": "equal_installment",
        "start": date(2026, 1, 31),
    }
    return build_schedule(**{**arguments, **overrides})


def test_a_rebuild_from_feb_28_keeps_the_31st() -> None:
    """A loan due on the 31st, rebuilt with the running installment's date Feb 28 first."""
    kept = _schedule(first_due_date=date(2026, 2, 28), due_day=31)
    assert [line.due_date for line in kept.lines] == [
        date(2026, 2, 28), *(_month_end(2026 + (m - 1) // 12, (m - 1) % 12 + 1) for m in range(3, 14))
    ]
    assert kept.lines[1].due_date == date(2026, 3, 31) and kept.lines[2].due_date == date(2026, 4, 30)
    drifting = _schedule(first_due_date=date(2026, 2, 28))  # without due_day: the 28th for ever after
    assert {line.due_date.day for line in drifting.lines} == {28}


def test_a_rebuild_from_a_prepayment_date_keeps_the_contract_day() -> None:
    """Servicing's rebuild: from the prepayment date, the running date first, then the 31st."""
    rebuilt = _schedule(start=date(2026, 2, 10), first_due_date=date(2026, 2, 28), term=4, due_day=31)
    assert [line.due_date for line in rebuilt.lines] == [
        date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)
    ]
    assert rebuilt.lines[1].period_start == date(2026, 2, 28)
    # Prepaid on the due date itself: no first_due_date, every date steps from the start on the 31st.
    on_due = _schedule(start=date(2026, 2, 28), term=3, due_day=31)
    assert [line.due_date for line in on_due.lines] == [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]


def test_a_multi_period_bullet_matures_on_the_contract_day() -> None:
    bullet = _schedule(start=date(2026, 2, 10), first_due_date=date(2026, 2, 28), term=3, method="bullet", due_day=31)
    assert bullet.maturity_date == date(2026, 4, 30) and bullet.first_due_date == date(2026, 2, 28)
    without = _schedule(start=date(2026, 2, 10), first_due_date=date(2026, 2, 28), term=3, method="bullet")
    assert without.maturity_date == date(2026, 4, 28)


def test_weekly_and_biweekly_ignore_due_day() -> None:
    for frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
        assert _schedule(frequency=frequency, due_day=3) == _schedule(frequency=frequency)
        assert due_dates(date(2026, 1, 31), 5, frequency, due_day=3) == due_dates(date(2026, 1, 31), 5, frequency)


def test_due_dates_on_the_day_clamp_to_short_months_and_leap_years() -> None:
    dates = due_dates(date(2027, 12, 15), 4, Frequency.MONTHLY, due_day=30)
    assert dates == [date(2028, 1, 30), date(2028, 2, 29), date(2028, 3, 30), date(2028, 4, 30)]
    dates = due_dates(date(2026, 12, 31), 3, Frequency.MONTHLY, date(2027, 1, 20), due_day=29)
    assert dates == [date(2027, 1, 20), date(2027, 2, 28), date(2027, 3, 29)]


@pytest.mark.parametrize("bad", [0, 32, -1, True, 1.0, "31", Decimal(5)])
def test_a_bad_due_day_names_the_field(bad: object) -> None:
    for call in (
        lambda: _schedule(due_day=bad),
        lambda: _schedule(due_day=bad, frequency="weekly"),  # refused even where it is ignored
        lambda: due_dates(date(2026, 1, 31), 3, Frequency.MONTHLY, due_day=bad),  # type: ignore[arg-type]
        lambda: next_due_on_day(date(2026, 1, 31), bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(MoneyError) as caught:
            call()
        assert caught.value.field == "due_day"


# --- None changes nothing -----------------------------------------------------------------------

starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31))


@st.composite
def schedule_arguments(draw: st.DrawFn) -> dict[str, Any]:
    frequency = draw(st.sampled_from(Frequency))
    start = draw(starts)
    arguments: dict[str, Any] = {
        "amount_minor": draw(st.integers(1, 10**10)),
        "rate_annual": Decimal(draw(st.integers(0, 400_000))).scaleb(-6),
        "term": draw(st.integers(1, 60) | st.sampled_from([360])),
        "method": draw(st.sampled_from(ScheduleMethod)),
        "start": start,
        "frequency": frequency,
        "fee_per_period_minor": draw(st.integers(0, 1_000)),
    }
    if draw(st.booleans()):  # a broken first period: any date strictly between start and the 2nd regular
        span = (step_date(start, 2, frequency) - start).days
        arguments["first_due_date"] = start + timedelta(days=draw(st.integers(1, span - 1)))
    return arguments


@settings(max_examples=200, deadline=None)
@given(arguments=schedule_arguments())
def test_due_day_none_is_today(arguments: dict[str, Any]) -> None:
    assert build_schedule(**arguments, due_day=None) == build_schedule(**arguments)


@settings(max_examples=200, deadline=None)
@given(arguments=schedule_arguments())
def test_due_day_of_the_start_is_today_without_a_first_due_date(arguments: dict[str, Any]) -> None:
    arguments.pop("first_due_date", None)
    assert build_schedule(**arguments, due_day=arguments["start"].day) == build_schedule(**arguments)


@settings(max_examples=200, deadline=None)
@given(arguments=schedule_arguments(), due_day=st.integers(1, 31))
def test_monthly_stepped_dates_fall_on_the_contract_day(arguments: dict[str, Any], due_day: int) -> None:
    schedule = build_schedule(**{**arguments, "frequency": Frequency.MONTHLY}, due_day=due_day)
    dates = due_dates(arguments["start"], arguments["term"], Frequency.MONTHLY, arguments.get("first_due_date"),
                      due_day=due_day)
    assert schedule.maturity_date == dates[-1] and schedule.first_due_date == dates[0]
    assert all(earlier < later for earlier, later in itertools.pairwise(dates))
    stepped = dates[1:] if "first_due_date" in arguments else dates
    for due in stepped:
        assert due.day == min(due_day, calendar.monthrange(due.year, due.month)[1]), due
    months = [due.year * 12 + due.month for due in dates]
    assert months == list(range(months[0], months[0] + len(dates)))  # one due date a month, none skipped


# --- next_due_on_day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "due_day", "expected"),
    [
        (date(2026, 2, 10), 31, date(2026, 2, 28)),
        (date(2026, 2, 28), 31, date(2026, 3, 31)),
        (date(2026, 1, 31), 31, date(2026, 2, 28)),
        (date(2026, 1, 30), 31, date(2026, 1, 31)),
        (date(2028, 2, 10), 31, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 28), 30, date(2028, 2, 29)),
        (date(2028, 2, 29), 29, date(2028, 3, 29)),
        (date(2027, 2, 27), 29, date(2027, 2, 28)),  # not a leap year: the 29th clamps to the 28th
        (date(2026, 12, 31), 31, date(2027, 1, 31)),  # Dec -> Jan
        (date(2026, 12, 20), 15, date(2027, 1, 15)),
        (date(2026, 12, 14), 15, date(2026, 12, 15)),
        (date(2026, 12, 15), 15, date(2027, 1, 15)),  # strictly after
        (date(2026, 3, 31), 1, date(2026, 4, 1)),
    ],
)
def test_next_due_on_day(after: date, due_day: int, expected: date) -> None:
    assert next_due_on_day(after, due_day) == expected


@given(after=st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 11, 30)), due_day=st.integers(1, 31))
def test_next_due_on_day_is_the_first_such_date(after: date, due_day: int) -> None:
    def on_day(day: date) -> bool:
        return day.day == min(due_day, calendar.monthrange(day.year, day.month)[1])

    found = next_due_on_day(after, due_day)
    assert found > after and on_day(found)
    assert not any(on_day(after + timedelta(days=k)) for k in range(1, (found - after).days))


def test_next_due_on_day_wants_a_date() -> None:
    with pytest.raises(MoneyError) as caught:
        next_due_on_day("2026-01-31", 31)  # type: ignore[arg-type]
    assert caught.value.field == "after"
