"""The dashboard's pure rules (monitoring/dashboard.py): the flows' date range, days and months
with nothing still present, and every bucket/stage present for each currency."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendstack.monitoring.dashboard import (
    DEFAULT_RANGE_DAYS,
    RANGE_DAYS_MAX,
    STAGES,
    DashboardInputError,
    DayApplications,
    DayDisbursed,
    application_totals,
    complete,
    complete_stages,
    disbursed_totals,
    flow_range,
    reconcile,
)

D = date(2026, 3, 31)


def test_the_range_defaults_to_the_days_before_the_end_and_a_late_start_is_one_day() -> None:
    assert flow_range(None, D) == (D - timedelta(days=DEFAULT_RANGE_DAYS - 1), D)
    assert flow_range(D + timedelta(days=3), D) == (D + timedelta(days=3), D + timedelta(days=3))
    with pytest.raises(DashboardInputError, match="start"):
        flow_range(D - timedelta(days=RANGE_DAYS_MAX), D)


@given(st.dictionaries(st.integers(0, 29), st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
                       max_size=30))
def test_application_totals_cover_every_day_and_add_up(found: dict[int, tuple[int, int, int]]) -> None:
    start = date(2026, 3, 1)
    by_day = {start + timedelta(days=k): DayApplications(a + d + r + 1, a, d, r) for k, (a, d, r) in found.items()}
    out = application_totals(by_day, start, start + timedelta(days=29))
    assert [r["day"] for r in out["by_day"]] == [(start + timedelta(days=k)).isoformat() for k in range(30)]
    assert out["total"] == sum(v.applications for v in by_day.values())
    assert out["approved"] == sum(v.approved for v in by_day.values())
    assert 0.0 <= out["approval_rate"] <= 1.0


def test_disbursed_totals_fill_every_day_and_currency_and_sum_by_month() -> None:
    start = date(2026, 1, 30)
    by_day = {(start, "CNY"): DayDisbursed(2, 300), (date(2026, 2, 2), "USD"): DayDisbursed(1, 50)}
    out = disbursed_totals(by_day, start, date(2026, 2, 2), ["CNY", "USD"])
    assert len(out["by_day"]) == 4 * 2
    assert out["by_month"] == [{"month": "2026-01", "currency": "CNY", "loans": 2, "amount_minor": 300},
                               {"month": "2026-01", "currency": "USD", "loans": 0, "amount_minor": 0},
                               {"month": "2026-02", "currency": "CNY", "loans": 0, "amount_minor": 0},
                               {"month": "2026-02", "currency": "USD", "loans": 1, "amount_minor": 50}]
    assert out["total_minor"] == {"CNY": 300, "USD": 50} and out["loans"] == 3


def test_every_name_and_stage_is_present_per_currency() -> None:
    rows = [{"currency": "CNY", "name": "M1", "loans": 1, "principal_minor": 10, "share": 1.0}]
    out = complete(rows, ["CNY", "USD"], ["M0", "M1"])
    assert [(r["currency"], r["name"], r["loans"]) for r in out] == [("CNY", "M0", 0), ("CNY", "M1", 1),
                                                                      ("USD", "M0", 0), ("USD", "M1", 0)]
    stages = complete_stages([], ["CNY"])
    assert [r["stage"] for r in stages] == list(STAGES) and all(r["ecl_minor"] == 0 for r in stages)


def test_reconcile_compares_every_loans_principal_with_the_ledger() -> None:
    out = reconcile({"CNY": {"all_loans_principal_minor": 5}, "USD": {"all_loans_principal_minor": 0}}, {"CNY": 5})
    assert out["CNY"]["reconciled"] and out["USD"]["reconciled"] and out["USD"]["ledger_principal_minor"] == 0
    assert not reconcile({"CNY": {"all_loans_principal_minor": 5}}, {"CNY": 4})["CNY"]["reconciled"]
