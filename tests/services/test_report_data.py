"""Report data: statuses and thresholds, quarters, and the reports of an empty book (both backends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from lendstack.reporting import render_html
from lendstack.services import report_data as rd
from lendstack.services.audit_bundle import (
    KeyCalls,
    RouteCalls,
    audit_bundle,
    calls_summary,
    key_lifecycle,
    parse_quarter,
    quarter_of,
)
from lendstack.store.report_repo import ApiKeyRecord, AuditedCall


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_every_day_lies_in_its_quarter(day: date) -> None:
    name, first, last = quarter_of(day)
    assert first <= day <= last and 90 <= (last - first).days + 1 <= 92
    assert first.day == 1 and first.month in (1, 4, 7, 10) and (last + timedelta(days=1)).day == 1
    assert parse_quarter(name) == first and quarter_of(last + timedelta(days=1))[1] == last + timedelta(days=1)


@pytest.mark.parametrize("text", ["2026Q0", "2026Q5", "26Q1", "2026", "Q1-2026", ""])
def test_bad_quarters_name_the_field(text: str) -> None:
    with pytest.raises(rd.ReportDataError) as info:
        parse_quarter(text)
    assert info.value.field == "quarter"


def test_statuses_and_thresholds() -> None:
    assert rd.worst([]) == "stable" and rd.worst(["stable", "watch"]) == "watch"
    assert rd.worst(["insufficient_data", "stable"]) == "insufficient_data"
    assert rd.worst(["watch", "alert", "insufficient_data"]) == "alert"
    dev = {"auc": 0.75, "ece": 0.02}
    assert rd.performance_status(_realized(0.74), dev) == ([], "stable")
    assert rd.performance_status(_realized(0.72), dev) == ([], "watch")  # down 0.03
    assert rd.performance_status(_realized(0.69), dev) == (["auc_drop"], "alert")  # 0.75 > upper bound 0.71
    assert rd.performance_status(_realized(0.69, half=0.07), dev) == ([], "watch")  # 0.75 inside [0.62, 0.76]
    assert rd.performance_status(_realized(0.69, bads=29), dev) == ([], "insufficient_data")
    assert rd.performance_status(_realized(0.75, ece=0.041, outside=1), dev) == (["calibration_drift"], "alert")
    assert rd.performance_status(_realized(0.75, ece=0.041), dev) == ([], "watch")  # no band outside Jeffreys
    assert rd.performance_status(_realized(0.75, ece=0.019), {"auc": 0.75, "ece": 0.005}) == ([], "stable")


def _realized(auc: float, *, half: float = 0.02, ece: float = 0.02, bads: int = 200,
              outside: int = 0) -> dict[str, object]:
    """A realized-performance record as `monitoring.drift.performance` returns it."""
    return {"auc": auc, "auc_ci95": [auc - half, auc + half], "ece": ece, "bads": bads, "goods": 2000,
            "bands_outside_jeffreys": outside}


def test_an_auc_drop_on_29_bads_is_not_an_alert() -> None:
    """Today's false alarm: 29 bads in 400 matured loans, realized AUC 0.08 below development.
    The DeLong interval is wide enough to hold the development AUC, and 29 bads are too few to
    judge at all."""
    import numpy as np

    from lendstack.monitoring.drift import judge_performance, performance

    rng = np.random.default_rng(29)
    bad = np.zeros(400, dtype=int)
    bad[:29] = 1
    pd = np.clip(0.07 + 0.03 * bad + rng.normal(0, 0.04, 400), 0.001, 0.999)
    current = performance(bad, pd)
    assert current["bads"] == 29
    development = {"auc": current["auc"] + 0.08, "ece": current["ece"]}
    low, high = current["auc_ci95"]
    assert low < current["auc"] < high < development["auc"] + 0.1  # an interval some ±0.1 wide
    assert rd.performance_status(current, development) == ([], "insufficient_data")
    alerts, status = judge_performance(current, development["auc"], development["ece"], bads_min=0)
    assert "auc_drop" not in alerts and status == "watch"  # the significance rule alone is enough


def test_performance_window_follows_the_target() -> None:
    assert rd.performance_window_days("default_12m") == 365 and rd.performance_window_days("bad_6m") == 183
    assert rd.performance_window_days("dpd90_90d") == 90 and rd.performance_window_days("default_2y") == 730
    assert rd.performance_window_days("target") == 365 and rd.performance_window_days(None) == 365
    assert rd.performance_window_days("default_9999m") == 365  # out of bounds: the default


def test_age_bands_cover_every_age() -> None:
    bands = [rd.age_band(age) for age in range(0, 120)]
    assert bands[24] == "<25" and bands[25] == "25-34" and bands[59] == "45-59" and bands[60] == "60+"
    assert list(dict.fromkeys(bands)) == ["<25", "25-34", "35-44", "45-59", "60+"]


def test_an_empty_book_reports_without_inventing_numbers(engine: Engine, tmp_path: Path) -> None:
    day = date(2026, 3, 31)
    portfolio = rd.portfolio_data(engine, day).to_json()
    assert portfolio["loans"] == 0 and portfolio["kpis"] == []
    assert "资产组合报告" in render_html("portfolio", portfolio)
    fairness = rd.fairness_data(engine, day).to_json()
    assert fairness["audit"] is None and fairness["decisions"] == 0
    assert "no decisions in the period" in render_html("fairness", fairness)
    with pytest.raises(rd.ReportDataError) as info:
        rd.models_data(engine, day, tmp_path / "no-registry")
    assert info.value.field == "registry"
    with pytest.raises(rd.ReportDataError) as info:
        rd.fairness_data(engine, day, "religion")
    assert info.value.field == "group"
    bundle = audit_bundle(engine, day, registry_dir=tmp_path / "no-registry").to_json()
    assert bundle["quarter"] == "2026Q1" and bundle["drift"] is None and "no champion" in bundle["models_note"]
    assert bundle["security"]["calls"]["total"] == 0 and bundle["status"] == "insufficient_data"
    assert "季度审计报告" in render_html("audit", bundle)


def test_bad_means_ever_90_plus_past_due_cured_or_not(engine: Engine) -> None:
    """The models report's realized outcome: written off, or more than 90 DPD on any day up to the
    report date, even if the borrower caught up since."""
    import polars as pl
    from tests.book_dates import advance_to

    from lendstack.money import Money
    from lendstack.services.eod import run_eod
    from lendstack.services.loans import book_loan, disburse_loan, get_loan, prepay_loan, repay_loan

    on = date(2026, 1, 10)
    for app in ("A-cured", "A-paid"):
        loan_id = f"L-{app}"
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(1_200_000, "CNY"), term=12,
                  on=on, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, on, f"disb-{loan_id}")
    # L-A-paid pays its first three installments on their due dates (the product allows prepayment
    # once three have fallen due), then pays off early with the prepayment fee: never past due.
    for installment in get_loan(engine, "L-A-paid").installments[:3]:
        advance_to(engine, installment.due_date)
        repay_loan(engine, "L-A-paid", installment.due_date, Money(
            installment.principal_minor + installment.interest_minor + installment.fee_minor, "CNY"),
            f"pay-{installment.seq}")
    advance_to(engine, date(2026, 4, 20))
    paid_off = prepay_loan(engine, "L-A-paid", date(2026, 4, 20), Money(1_300_000, "CNY"), "pp", full=True)
    assert paid_off["status"] == "closed" and get_loan(engine, "L-A-paid").days_past_due == 0
    run_eod(engine, date(2026, 5, 25), hooks=False)  # the first installment (due 2026-02-10) is 104 DPD
    assert get_loan(engine, "L-A-cured").days_past_due > 90
    repay_loan(engine, "L-A-cured", date(2026, 5, 26), Money(1_300_000, "CNY"), "cure")  # all arrears and more
    run_eod(engine, date(2026, 5, 27), hooks=False)
    assert get_loan(engine, "L-A-cured").days_past_due == 0, "cured"
    frame = pl.DataFrame({"application_id": ["A-cured", "A-paid", "A-never-booked"]})

    def outcomes(day: date, window_days: int = 365) -> dict[str, dict[str, object]]:
        with engine.connect() as conn:
            return {r["application_id"]: r for r in rd._with_outcomes(conn, frame, day, window_days).to_dicts()}

    late = outcomes(date(2027, 1, 11))  # 366 days after disbursement: the 12-month window is over
    assert late["A-cured"]["matured"] is True and late["A-cured"]["bad"] is True  # 104 DPD in May, cured since
    assert late["A-paid"]["matured"] is True and late["A-paid"]["bad"] is False
    assert late["A-never-booked"]["booked"] is False and late["A-never-booked"]["bad"] is None
    # On 2026-09-01 a live loan is 234 days on book: not matured for a 12-month target (180 days
    # would have counted it), while the closed one is.
    september = outcomes(date(2026, 9, 1))
    assert september["A-cured"]["matured"] is False and september["A-cured"]["bad"] is None
    assert september["A-paid"]["matured"] is True
    assert outcomes(date(2026, 9, 1), 180)["A-cured"]["bad"] is True
    # A 100-day window ends on 2026-04-20, before the first 91st day past due (2026-05-12): good.
    short = outcomes(date(2026, 9, 1), 100)["A-cured"]
    assert short["matured"] is True and short["bad"] is False
    # On 2026-05-01 the first installment was 80 days past due: not matured, no outcome yet.
    early = outcomes(date(2026, 5, 1))
    assert early["A-cured"]["matured"] is False and early["A-cured"]["bad"] is None
    with engine.connect() as conn:  # the crossing itself: bad from the 91st day past due on
        assert rd._ever_past_due(conn, ["L-A-cured"], date(2026, 5, 11)) == []
        assert rd._ever_past_due(conn, ["L-A-cured"], date(2026, 5, 12)) == ["L-A-cured"]
        assert rd._ever_past_due(conn, ["L-A-paid"], date(2026, 9, 1)) == []


def test_the_calls_summary_counts_personal_data_refusals_and_routes() -> None:
    calls = [AuditedCall("k1", "partner", "p1", "GET", "/v1/loans/L1", 200, "10.0.0.1"),
             AuditedCall("k1", "partner", "p1", "POST", "/v1/loans/L2/repay", 403, "10.0.0.1"),
             AuditedCall("", "", "", "GET", "/v1/products", 401, "10.0.0.2"),
             AuditedCall("k2", "admin", "", "POST", "/v1/eod", 500, "10.0.0.3")]
    out = calls_summary(calls)
    assert (out.total, out.personal_data, out.personal_data_reads, out.personal_data_readers) == (4, 2, 1, ("k1",))
    assert (out.refused, out.unauthenticated, out.server_errors, out.clients) == (2, 1, 1, 3)
    assert out.by_role == {"(none)": 1, "admin": 1, "partner": 2} and out.by_status == {"200": 1, "401": 1, "403": 1,
                                                                                         "500": 1}
    assert out.by_key[0] == KeyCalls("k1", "partner", "p1", 2)
    assert RouteCalls("POST", "/v1/loans/{id}/repay", 1) in out.routes
    assert out.to_json()["by_key"][0] == {"key_id": "k1", "role": "partner", "partner_id": "p1", "calls": 2}


def test_the_key_lifecycle_of_a_period() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    keys = [ApiKeyRecord("old", "admin", "", "a", datetime(2025, 6, 1), None),  # naive: read as UTC
            ApiKeyRecord("new", "partner", "p1", "b", datetime(2026, 2, 1, tzinfo=UTC), None),
            ApiKeyRecord("gone", "partner", "p1", "c", datetime(2026, 2, 1, tzinfo=UTC),
                         datetime(2026, 3, 1, tzinfo=UTC))]
    out = key_lifecycle(keys, start, end)
    assert [k.key_id for k in out.created] == ["new", "gone"] and [k.key_id for k in out.revoked] == ["gone"]
    assert out.active_at_end == 2 and out.active_by_role == {"admin": 1, "partner": 1}
    assert out.to_json()["revoked"][0]["revoked_at"] == "2026-03-01T00:00:00+00:00"
