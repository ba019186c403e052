"""`lendstack bench monitoring` runs small and reports the keys the issue asks for."""

from __future__ import annotations

import pytest

from bench import monitoring


def test_bench_monitoring_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_BENCH_MONITORING_LOANS", "3000")
    result = monitoring.run(progress=False)
    assert result["monitoring_loans"] == 3000 and result["monitoring_installments"] == 36_000
    assert result["monitoring_s"] > 0 and result["monitoring_ecl_minor"] > 0 and result["monitoring_vintage_rows"] > 0
    # every loan went through the 23 shipped indicators; overdue loans at least raise the DPD one
    assert result["monitoring_indicators"] >= 20 and 0 < result["monitoring_alerts"] < 3000 * 23


def test_indicator_rows_match_build_row_names() -> None:
    """The bench's columnar features carry exactly the names (and so the meaning) of build_row's rows."""
    from lendstack.monitoring.early_warning import ROW_NAMES

    loans, _installments, _payments = monitoring.synthetic_book(50, monitoring.SEED)
    rows = monitoring.indicator_rows(loans, *monitoring.monthly_data(loans, monitoring.SEED))
    assert set(rows.columns) == ROW_NAMES | {"loan_id"} and rows.height == 50

