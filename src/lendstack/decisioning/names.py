"""The names a policy expression may read: the application's feature columns (the simulator's
`FIELDS` with role "feature", which origination's `features_row` returns; a test checks the two
lists agree) and the values the decision engine adds."""

from __future__ import annotations

FEATURES = (
    "applied_on", "applicant_type", "segment", "region", "age", "monthly_income_minor", "debt_to_income",
    "inquiries_6m", "open_loans_elsewhere", "past_delinquencies_24m", "bureau_score", "months_since_oldest_account",
    "annual_tax_paid_minor", "tax_filing_months", "invoice_revenue_12m_minor", "invoice_count_12m",
    *(f"revenue_m{k:02d}_minor" for k in range(1, 13)),
    "revenue_mean_12m_minor", "revenue_volatility", "orders_12m", "vehicle_value_minor", "mileage_km_30d",
    "night_driving_share", "region_exits_30d", "device_age_days", "device_changes_90d", "app_sessions_30d",
    "night_edits_share", "gps_distance_km", "declared_monthly_revenue_minor", "requested_amount_minor",
    "requested_term_months", "purpose", "collateral",
)
OPTIONAL_FEATURES = ("co2_reduced_tonnes",)  # present for green loans only; null otherwise
# Added by the engine before knockouts: 0 none, 1 info, 2 warn, 3 high, 4 critical.
PRE_SCORE = ("flag_count", "flag_severity_max", "failed_source_count")
POST_SCORE = ("pd", "grade")  # rules only: knockouts run before the score

KNOCKOUT_NAMES = frozenset((*FEATURES, *OPTIONAL_FEATURES, *PRE_SCORE))
RULE_NAMES = frozenset((*KNOCKOUT_NAMES, *POST_SCORE))
SEVERITY_RANK = {"info": 1, "warn": 2, "high": 3, "critical": 4}
