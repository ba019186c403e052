"""`lendstack bench servicing` at toy sizes: every measurement is there and positive, and the
checks inside the bench (book = service path, trial balance zero, sample = eod_one) held, or
run() would have raised."""

from __future__ import annotations

import pytest

from bench import servicing

KEYS = (
    "eod_loans", "eod_s", "eod_speedup_vs_reference", "schedules_per_s", "journal_entries_per_s_sqlite",
    "journal_entries_per_s_postgres", "eod_entries_posted", "eod_loans_per_s", "reference_loans_per_s",
    "book_setup_s", "schedules_reference_per_s", "eod_read_s", "eod_compute_s", "eod_ledger_write_s",
    "eod_loan_write_s", "ledger_verify_s", "loans_reconcile_s", "verify_s", "provision_s", "provision_entries",
)


def test_bench_servicing_runs_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_BENCH_EOD_LOANS", "2000")
    monkeypatch.setenv("LENDSTACK_BENCH_SAMPLE_LOANS", "200")
    monkeypatch.setenv("LENDSTACK_BENCH_ENTRIES", "2000")
    monkeypatch.setenv("LENDSTACK_BENCH_SCHEDULES", "5000")
    monkeypatch.delenv("LENDSTACK_DATABASE_URL", raising=False)  # the throwaway cluster, never a real one
    result = servicing.run(progress=False)
    missing = [key for key in KEYS if key not in result]
    assert not missing, missing
    numbers = {key: result[key] for key in KEYS if not (key == "journal_entries_per_s_postgres" and
                                                         "postgres_unavailable_reason" in result)}
    for key, value in numbers.items():
        assert isinstance(value, int | float) and not isinstance(value, bool) and value > 0, (key, value)
    assert result["eod_loans"] == 2000 and result["reference_loans"] == 200
    assert result["eod_entries_posted"] == 2000  # every loan accrues interest on the day
    assert result["eod_detail_loans"] > 0  # the cohort due the day before went through the detail path
    assert result["book_verified_loans"] >= 20
