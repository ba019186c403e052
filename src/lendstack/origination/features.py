"""`features_row`: one application + its data as the flat feature row a model trained on simulator frames reads.

The keys are exactly the simulator's feature columns (`lendstack.sim.FIELDS`, role "feature"), in
that order, with None where a source gave no data — so a live application scores like a training row.
"""

from __future__ import annotations

from typing import Any

from lendstack.origination.application import Application
from lendstack.origination.snapshots import DataBundle

POS_MONTHS = 12
REVENUE_COLUMNS = tuple(f"revenue_m{k:02d}_minor" for k in range(1, POS_MONTHS + 1))  # m12 is the latest month
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
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
    "pos": (*REVENUE_COLUMNS, "revenue_mean_12m_minor", "revenue_volatility"),
    "supply_chain": ("orders_12m",),
    "telematics": ("vehicle_value_minor", "mileage_km_30d", "night_driving_share", "region_exits_30d"),
    "device": ("device_age_days", "device_changes_90d", "app_sessions_30d", "night_edits_share", "gps_distance_km"),
}
# Gender is a protected attribute: audits read it from the application, models and policies never see it.
APPLICANT_COLUMNS = ("applicant_type", "segment", "region", "age")
DECLARED_COLUMNS = (
    "declared_monthly_revenue_minor",
    "requested_amount_minor",
    "requested_term_months",
    "purpose",
    "collateral",
)
FEATURE_COLUMNS: tuple[str, ...] = (
    "applied_on",
    *APPLICANT_COLUMNS,
    *(column for columns in SOURCE_COLUMNS.values() for column in columns),
    *DECLARED_COLUMNS,
)
assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)


def _pos_months(payload: dict[str, Any]) -> dict[str, Any]:
    # A shorter history is the latest months: pad the oldest end with None.
    months = list(payload.get("monthly_revenue_minor") or [])[-POS_MONTHS:]
    padded = [None] * (POS_MONTHS - len(months)) + months
    return dict(zip(REVENUE_COLUMNS, padded, strict=True))


def _source_values(source: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    columns = SOURCE_COLUMNS[source]
    if payload is None:
        return dict.fromkeys(columns)
    values = {column: payload.get(column) for column in columns}
    if source == "pos":
        values |= _pos_months(payload)
    return values


def features_row(application: Application, bundle: DataBundle) -> dict[str, Any]:
    """The flat feature dict (keys = FEATURE_COLUMNS); sources that are missing or failed give None values."""
    a, d = application.applicant, application.declared
    row: dict[str, Any] = {"applied_on": application.applied_on}
    row |= {"applicant_type": a.applicant_type, "segment": a.segment, "region": a.region}
    row |= {"age": a.age}
    for source in SOURCE_COLUMNS:
        row |= _source_values(source, bundle.payload(source))
    row |= {column: getattr(d, column) for column in DECLARED_COLUMNS}
    ordered = {column: row[column] for column in FEATURE_COLUMNS}
    assert len(ordered) == len(row), "features_row produced a column outside FEATURE_COLUMNS"
    return ordered
