"""`to_application_json`: one frame row as the nested application document the decision API takes.

Only what a lender would receive is included: the applicant, what they declared, and the data
sources keyed by source name. Hidden truth and outcomes stay out. A source with no data for this
applicant (no bureau file, no tax record, no vehicle) is left out rather than sent as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from lendstack.sim.errors import SimArgumentError
from lendstack.sim.fields import FIELDS
from lendstack.sim.flows import REVENUE_COLUMNS

CURRENCY = "CNY"
_SOURCES: dict[str, tuple[str, ...]] = {
    "bureau": (
        "monthly_income_minor",
        "debt_to_income",
        "inquiries_6m",
        "open_loans_elsewhere",
        "past_delinquencies_24m",
        "bureau_score",
        "months_since_oldest_account",
    ),
    "tax": ("annual_tax_paid_minor", "tax_filing_months"),
    "invoices": ("invoice_revenue_12m_minor", "invoice_count_12m"),
    "pos": ("revenue_mean_12m_minor", "revenue_volatility"),
    "supply_chain": ("orders_12m",),
    "telematics": ("vehicle_value_minor", "mileage_km_30d", "night_driving_share", "region_exits_30d"),
    "device": ("device_age_days", "device_changes_90d", "app_sessions_30d", "night_edits_share", "gps_distance_km"),
}
_APPLICANT = ("applicant_type", "segment", "region", "gender", "age")
_IDENTIFIERS = ("phone_hash", "device_id", "bank_account_hash", "address_hash")
_DECLARED = (
    "declared_monthly_revenue_minor",
    "requested_amount_minor",
    "requested_term_months",
    "purpose",
    "collateral",
)


def to_application_json(row: Mapping[str, Any] | pl.DataFrame) -> dict[str, Any]:
    """A JSON-serialisable dict (amounts as int minor units, dates as ISO strings), deterministic in key order.

    `row` is `frame.row(i, named=True)` or a one-row frame.
    """
    values = _as_mapping(row)
    sources = {name: _pick(values, columns) for name, columns in _SOURCES.items()}
    sources["pos"] = {"monthly_revenue_minor": [values[name] for name in REVENUE_COLUMNS], **sources["pos"]}
    present = {name: fields for name, fields in sources.items() if _has_data(fields)}
    applied_on = values["applied_on"]
    return {
        "application_id": values["application_id"],
        "applied_on": applied_on.isoformat() if isinstance(applied_on, date) else applied_on,
        "currency": CURRENCY,
        "applicant": {**_pick(values, _APPLICANT), "identifiers": _pick(values, _IDENTIFIERS)},
        "declared": _pick(values, _DECLARED),
        "data_sources": present,
    }


def _as_mapping(row: Mapping[str, Any] | pl.DataFrame) -> Mapping[str, Any]:
    if isinstance(row, pl.DataFrame):
        if row.height != 1:
            raise SimArgumentError("row", f"must be one row, got a frame of {row.height} rows")
        row = row.row(0, named=True)
    missing = [name for name in FIELDS if FIELDS[name].role in ("key", "feature", "protected") and name not in row]
    if missing:
        raise SimArgumentError("row", f"missing columns {missing[:5]}; pass a row of generate_applications")
    return row


def _pick(values: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in columns}


def _has_data(fields: dict[str, Any]) -> bool:
    return any(value is not None and value != [None] * len(REVENUE_COLUMNS) for value in fields.values())
