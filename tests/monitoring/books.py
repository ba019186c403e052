"""Tiny hand-made loans / installments / payments frames for the monitoring tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from lendstack.monitoring.portfolio import LOAN_COLUMNS


def loan(loan_id: str, **values: Any) -> dict[str, Any]:
    """One loans-table row: 1000.00 disbursed, nothing repaid, DPD 0, unless overridden."""
    row: dict[str, Any] = {name: 0 for name in LOAN_COLUMNS if name.endswith("_minor")}
    row |= {"loan_id": loan_id, "product_id": "p1", "currency": "CNY", "funder_id": "self", "status": "active",
            "disbursed_on": date(2026, 1, 1), "days_past_due": 0, "bucket": "M0", "five_tier": "normal",
            "restructure_count": 0, "principal_disbursed_minor": 100_000}
    return row | values


def loans_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    schema: dict[str, Any] = {n: (pl.Int64 if n.endswith("_minor") or n in ("days_past_due", "restructure_count")
                                  else pl.Date if n == "disbursed_on" else pl.String) for n in LOAN_COLUMNS}
    return pl.DataFrame([{n: r[n] for n in LOAN_COLUMNS} for r in rows], schema=schema)


def installments_frame(rows: list[tuple[str, int, date, int]]) -> pl.DataFrame:
    """(loan_id, seq, due_date, principal due); interest and fee zero for hand checks."""
    return pl.DataFrame(
        {"loan_id": [r[0] for r in rows], "seq": [r[1] for r in rows], "due_date": [r[2] for r in rows],
         "principal_minor": [r[3] for r in rows], "interest_minor": [0] * len(rows), "fee_minor": [0] * len(rows),
         "capitalized": [False] * len(rows)},
        schema={"loan_id": pl.String, "seq": pl.Int64, "due_date": pl.Date, "principal_minor": pl.Int64,
                "interest_minor": pl.Int64, "fee_minor": pl.Int64, "capitalized": pl.Boolean})


def payments_frame(rows: list[tuple[str, date, int]]) -> pl.DataFrame:
    return pl.DataFrame({"loan_id": [r[0] for r in rows], "paid_on": [r[1] for r in rows],
                         "amount_minor": [r[2] for r in rows]},
                        schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64})
