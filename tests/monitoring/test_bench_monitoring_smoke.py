"""`lendstack bench monitoring` runs small and reports the keys the issue asks for."""

from __future__ import annotations

import pytest

from bench import monitoring


def test_bench_monitoring_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_BENCH_MONITORING_LOANS", "3000")
    result = monitoring.run(progress=False)
    assert result["monitoring_loans"] == 3000 and result["monitoring_installments"] == 36_000
    assert result["monitoring_s"] > 0 and result["monitoring_ecl_minor"] > 0 and result["monitoring_vintage_rows"] > 0
