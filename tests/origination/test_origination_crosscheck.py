"""Cross-checks catch the simulator's packaged applicants; features_row equals the simulator's feature row."""

from __future__ import annotations

from typing import Any

import pytest

from lendstack.origination import (
    FEATURE_COLUMNS,
    Application,
    CrossCheckTolerance,
    DataBundle,
    EmbeddedConnector,
    FailingConnector,
    cross_check,
    features_row,
    gather,
)
from lendstack.sim import FIELDS

Gathered = list[tuple[dict[str, Any], Application, DataBundle]]


def _flagged(flags: list[Any]) -> bool:
    return any(flag.severity in ("high", "critical") for flag in flags)


def test_packaged_applicants_are_flagged_far_more_often_than_honest_ones(sim_gathered: Gathered) -> None:
    business = [
        (row, cross_check(app, bundle)) for row, app, bundle in sim_gathered if row["applicant_type"] != "individual"
    ]
    packaged = [_flagged(flags) for row, flags in business if row["is_packaged"]]
    honest = [_flagged(flags) for row, flags in business if not row["is_packaged"]]
    assert len(packaged) >= 30, "the sample needs packaged applicants"
    packaged_rate, honest_rate = sum(packaged) / len(packaged), sum(honest) / len(honest)
    assert packaged_rate >= 0.85, packaged_rate
    assert honest_rate <= 0.08, honest_rate
    assert packaged_rate >= 10 * honest_rate


def test_a_mismatch_flag_carries_the_numbers_and_ratio(sim_gathered: Gathered) -> None:
    row, app, bundle = next(item for item in sim_gathered if item[0]["is_packaged"])
    flags = {flag.code: flag for flag in cross_check(app, bundle)}
    flag = flags["xcheck.revenue_vs_tax"]
    assert flag.evidence["declared_monthly_revenue_minor"] == row["declared_monthly_revenue_minor"]
    expected = row["annual_tax_paid_minor"] / 0.02 / min(row["tax_filing_months"], 12)
    assert flag.evidence["tax_implied_monthly_revenue_minor"] == round(expected)
    assert flag.evidence["declared_vs_tax_ratio"] == pytest.approx(
        row["declared_monthly_revenue_minor"] / expected, abs=1e-4
    )
    assert flag.message_en and flag.message_zh


def test_individuals_without_revenue_get_no_revenue_flags(sim_gathered: Gathered) -> None:
    salaried = [(app, bundle) for row, app, bundle in sim_gathered if row["declared_monthly_revenue_minor"] is None]
    assert salaried and all(cross_check(app, bundle) == [] for app, bundle in salaried)


def test_a_missing_tax_source_skips_the_tax_checks_and_says_so(sim_gathered: Gathered) -> None:
    _row, app, _ = next(item for item in sim_gathered if item[0]["is_packaged"])
    bundle = gather(app, [FailingConnector("tax"), FailingConnector("pos"), EmbeddedConnector("invoices")])
    codes = {flag.code for flag in cross_check(app, bundle)}
    assert "xcheck.revenue_vs_tax" not in codes and "xcheck.revenue_unverified" in codes


def test_tolerance_is_data(sim_gathered: Gathered) -> None:
    _row, app, bundle = next(item for item in sim_gathered if item[0]["is_packaged"])
    lenient = CrossCheckTolerance(
        declared_vs_tax_ratio_max=100, pos_vs_tax_ratio_max=100, declared_vs_pos_ratio_max=100
    )
    assert not _flagged(cross_check(app, bundle, lenient))


def test_feature_columns_are_the_simulators() -> None:
    assert list(FEATURE_COLUMNS) == [name for name, doc in FIELDS.items() if doc.role == "feature"]


def test_features_row_equals_the_simulator_row(sim_gathered: Gathered) -> None:
    for row, app, bundle in sim_gathered[:600]:
        expected = {name: row[name] for name in FEATURE_COLUMNS}
        assert features_row(app, bundle) == expected, row["application_id"]


def test_features_row_has_none_for_a_failed_source(sim_gathered: Gathered) -> None:
    row, app, _ = next(item for item in sim_gathered if item[0]["bureau_score"] is not None)
    features = features_row(app, gather(app, [FailingConnector("bureau"), EmbeddedConnector("device")]))
    assert features["bureau_score"] is None and features["revenue_m12_minor"] is None
    assert features["device_age_days"] == row["device_age_days"]
