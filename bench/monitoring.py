"""`lendstack bench monitoring`: portfolio analytics and ECL over a million loans' data.

Builds, in memory, a synthetic book shaped like the `loans` and `installments` tables plus the
repayment cash flows the ledger would hold (12 monthly installments per loan, disbursed over 12
months; most loans pay on time, some pay late, some stop paying), then times the pure functions
of `lendstack.monitoring` on it: exposure and distributions, NPL, concentration, installment
paid dates, vintage curves, a roll-rate matrix and ECL by stage. Columnar throughout.

The early-warning step takes six months of POS revenue and cost per loan (a matrix, as the monthly
snapshots would give), derives the indicator features from it columnar (revenue trailing mean,
volatility, margins) beside synthetic bureau, tax, telematics and device features, and evaluates
the shipped indicator set (monitoring/indicators/default.yaml) over every loan. What it does not
time: reading snapshots from the database into rows — services.early_warning.book_rows builds
rows one loan at a time in Python, fine for a book of thousands, not yet for millions.

LENDSTACK_BENCH_MONITORING_LOANS sets the size (default 1,000,000) so CI can run it small.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
import polars as pl

from lendstack.monitoring.early_warning import REVENUE_MONTHS, evaluate, load_indicators
from lendstack.monitoring.portfolio import (
    LOAN_COLUMNS,
    bucket_distribution,
    concentration,
    dpd_at,
    dpd_distribution,
    five_tier_distribution,
    installment_paid_dates,
    npl_ratio,
    roll_rates,
    vintage_curves,
)
from lendstack.risk.ecl import ecl_summary, loan_ecl
from lendstack.servicing.aging import BUCKETS, DEFAULT_AGING, FIVE_TIERS

LOANS_DEFAULT = 1_000_000
TERM_MONTHS = 12
START = date(2025, 1, 1)
AS_OF = date(2026, 1, 1)
SEED = 20260101
T = TypeVar("T")


def run(progress: bool) -> dict[str, Any]:
    n = int(os.environ.get("LENDSTACK_BENCH_MONITORING_LOANS", LOANS_DEFAULT))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loans, installments, payments = _timed(timings, "build", lambda: synthetic_book(n, SEED), progress)
    paid = _timed(timings, "paid_dates", lambda: installment_paid_dates(installments, payments), progress)
    t_start = time.perf_counter()
    _timed(timings, "distributions", lambda: (dpd_distribution(loans), bucket_distribution(loans),
                                              five_tier_distribution(loans), npl_ratio(loans),
                                              concentration(loans, "product_id")), progress)
    curves = _timed(timings, "vintages", lambda: vintage_curves(paid, loans, AS_OF), progress)
    roll = _timed(timings, "roll_rates", lambda: roll_rates(paid, loans, AS_OF - timedelta(days=30), AS_OF), progress)
    per_loan = _timed(timings, "ecl", lambda: loan_ecl(loans), progress)
    summary = ecl_summary(per_loan)
    monthly = monthly_data(loans, SEED)
    indicators = load_indicators()
    alerts = _timed(timings, "early_warning",
                    lambda: evaluate(indicators, indicator_rows(loans, *monthly), AS_OF), progress)
    analytics_s = time.perf_counter() - t_start + timings["paid_dates_s"]
    return {
        "monitoring_loans": n, "monitoring_installments": installments.height, "monitoring_payments": payments.height,
        "monitoring_s": round(analytics_s, 3), "monitoring_total_with_build_s": round(time.perf_counter() - t0, 3),
        **{f"monitoring_{k}": round(v, 3) for k, v in timings.items()},
        "monitoring_ecl_minor": sum(r["ecl_minor"] for r in summary),
        "monitoring_alerts": len(alerts), "monitoring_indicators": len(indicators.indicators),
        "monitoring_vintage_rows": len(curves), "monitoring_roll_loans": int(sum(map(sum, roll["counts"]))),
    }


def _timed(timings: dict[str, float], name: str, action: Callable[[], T], progress: bool) -> T:
    start = time.perf_counter()
    result = action()
    timings[f"{name}_s"] = time.perf_counter() - start
    if progress:
        print(f"  {name}: {timings[f'{name}_s']:.2f} s", flush=True)
    return result


def synthetic_book(n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(loans, installments, payments) of n loans; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    disbursed = np.datetime64(START) + rng.integers(0, 365, n).astype("timedelta64[D]")
    principal = rng.integers(100_000, 5_000_000, n)
    # 0: pays on time, 1: pays ~20 days late, 2: stops after k installments
    habit = rng.choice(3, n, p=[0.85, 0.1, 0.05])
    stop_after = rng.integers(1, TERM_MONTHS, n)
    installments, payments = _schedules(n, disbursed, principal, habit, stop_after, rng)
    dpd = _current_dpd(installments, payments, n)
    loans = _loans(n, disbursed, principal, dpd, rng)
    return loans, installments, payments


def _schedules(n: int, disbursed: np.ndarray[Any, Any], principal: np.ndarray[Any, Any], habit: np.ndarray[Any, Any],
               stop_after: np.ndarray[Any, Any], rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    loan_index = np.repeat(np.arange(n), TERM_MONTHS)
    seq = np.tile(np.arange(1, TERM_MONTHS + 1), n)
    due = disbursed[loan_index] + (seq * 30).astype("timedelta64[D]")
    part = principal[loan_index] // TERM_MONTHS
    interest = part // 50
    size = loan_index.size
    lag_days = np.where(habit[loan_index] == 1, rng.integers(5, 40, size), rng.integers(-3, 1, size))
    paid_on = due + lag_days.astype("timedelta64[D]")
    pays = (habit[loan_index] != 2) | (seq <= stop_after[loan_index])
    pays &= paid_on <= np.datetime64(AS_OF)
    ids = pl.Series("loan_id", [f"L{i:07d}" for i in range(n)])
    loan_id = ids.gather(loan_index)
    installments = pl.DataFrame({
        "loan_id": loan_id, "seq": seq, "due_date": due.astype("datetime64[D]"), "principal_minor": part,
        "interest_minor": interest, "fee_minor": np.zeros_like(part), "capitalized": np.zeros(part.size, dtype=bool),
    }).with_columns(pl.col("due_date").cast(pl.Date))
    payments = pl.DataFrame({"loan_id": loan_id.filter(pays), "paid_on": paid_on[pays].astype("datetime64[D]"),
                             "amount_minor": (part + interest)[pays]}).with_columns(pl.col("paid_on").cast(pl.Date))
    return installments, payments


def _current_dpd(installments: pl.DataFrame, payments: pl.DataFrame, n: int) -> np.ndarray[Any, Any]:
    """Servicing's DPD on AS_OF, from the same flows (the loans table stores it; here it is derived)."""
    dpd = dpd_at(installment_paid_dates(installments, payments), AS_OF).sort("loan_id")
    assert dpd.height == n
    return dpd["days_past_due"].to_numpy()


def _loans(n: int, disbursed: np.ndarray[Any, Any], principal: np.ndarray[Any, Any], dpd: np.ndarray[Any, Any],
           rng: np.random.Generator) -> pl.DataFrame:
    zeros = np.zeros(n, dtype=np.int64)
    repaid = (principal * rng.uniform(0, 0.9, n)).astype(np.int64)
    columns: dict[str, Any] = {name: zeros for name in LOAN_COLUMNS if name.endswith("_minor")}
    columns |= {
        "loan_id": [f"L{i:07d}" for i in range(n)],
        "product_id": rng.choice(["consumer_cny_12m", "micro_business_cny", "farm_seasonal_cny"], n),
        "currency": np.full(n, "CNY"), "funder_id": rng.choice(["self", "bank_a"], n, p=[0.7, 0.3]),
        "status": np.where(dpd > 0, "overdue", "active"), "disbursed_on": disbursed.astype("datetime64[D]"),
        "days_past_due": dpd, "bucket": np.asarray(BUCKETS)[DEFAULT_AGING.bucket_index_array(dpd)],
        "five_tier": np.asarray([t.value for t in FIVE_TIERS])[DEFAULT_AGING.five_tier_index_array(dpd)],
        "restructure_count": (rng.random(n) < 0.01).astype(np.int64), "principal_disbursed_minor": principal,
        "principal_repaid_minor": repaid, "interest_accrued_minor": principal // 20,
        "interest_paid_minor": principal // 25,
    }
    frame = pl.DataFrame({name: columns[name] for name in LOAN_COLUMNS})
    return frame.with_columns(pl.col("disbursed_on").cast(pl.Date))


def monthly_data(loans: pl.DataFrame, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Six months of revenue and cost per loan in minor units (column 0 = the latest month): steady
    businesses with noise, and about 3 % whose revenue falls in the last month."""
    rng = np.random.default_rng(seed + 7)
    n = loans.height
    base = rng.lognormal(mean=11.5, sigma=0.6, size=n)[:, None]
    revenue = base * rng.normal(1.0, 0.08, size=(n, REVENUE_MONTHS)).clip(0.3, None)
    revenue[:, 0] *= np.where(rng.random(n) < 0.03, rng.uniform(0.2, 0.7, n), 1.0)
    cost = revenue * rng.uniform(0.5, 0.8, size=(n, 1))
    return revenue.astype(np.int64) * 100, cost.astype(np.int64) * 100


def indicator_rows(loans: pl.DataFrame, revenue: np.ndarray[Any, Any], cost: np.ndarray[Any, Any]) -> pl.DataFrame:
    """The indicator features of every loan, columnar (the same names and meaning as build_row)."""
    n = loans.height
    rng = np.random.default_rng(SEED + 11)
    margin = (revenue - cost) / np.where(revenue > 0, revenue, 1)
    prior = revenue[:, 1:]
    open_loans = rng.poisson(1.2, n)
    columns: dict[str, Any] = {
        "loan_id": loans["loan_id"], "bucket": loans["bucket"], "status": loans["status"],
        "dpd": loans["days_past_due"], "principal_outstanding_minor": loans["principal_disbursed_minor"]
        - loans["principal_repaid_minor"], "restructure_count": loans["restructure_count"],
        "missed_last_3": np.minimum(loans["days_past_due"].to_numpy() // 30, 3),
        **{f"revenue_m{i + 1}": revenue[:, i] for i in range(REVENUE_MONTHS)},
        "revenue_months": np.full(n, REVENUE_MONTHS),
        "revenue_trailing_mean": prior.mean(axis=1), "revenue_volatility": revenue.std(axis=1) / revenue.mean(axis=1),
        "margin_m1": margin[:, 0], "margin_trailing_mean": margin[:, 1:].mean(axis=1),
        "tax_arrears_minor": np.where(rng.random(n) < 0.01, rng.integers(1_000_00, 50_000_00, n), 0),
        "open_loans": open_loans, "new_loans_elsewhere": rng.binomial(1, 0.02, n),
        "inquiries_6m": rng.poisson(1, n), "inquiries_6m_change": rng.integers(-1, 3, n),
        "utilisation": rng.beta(2, 5, n), "utilisation_change": rng.normal(0, 0.1, n),
        "vehicle_region_exits": rng.binomial(1, 0.005, n), "mileage_km": rng.uniform(500, 3000, n),
        "mileage_drop": rng.normal(0, 0.2, n), "device_changes": rng.binomial(2, 0.03, n),
        "device_changed": rng.binomial(1, 0.02, n),
    }
    return pl.DataFrame(columns)

