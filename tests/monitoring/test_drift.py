"""Model monitoring: a drifted simulator population raises alerts on the shifted features and
the baseline does not; realized performance and calibration drift."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lendstack.monitoring.drift import (
    DriftInputError,
    judge_performance,
    performance,
    performance_drift,
    stability,
    stability_report,
    status_of,
)
from lendstack.sim import Shift, generate_applications

FEATURES = ["monthly_income_minor", "inquiries_6m", "debt_to_income", "bureau_score", "region", "segment", "age"]


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return generate_applications(6000, seed=11).select(*FEATURES, "pd_true", "default_12m")


def test_thresholds() -> None:
    assert [status_of(v) for v in (0.0, 0.099, 0.1, 0.25, 0.2501)] == ["stable", "stable", "watch", "watch", "alert"]


def test_identical_samples_have_zero_psi(reference: pl.DataFrame) -> None:
    assert stability(reference["monthly_income_minor"], reference["monthly_income_minor"]) == pytest.approx(0.0)
    assert stability(reference["region"], reference["region"]) == pytest.approx(0.0)


def test_baseline_population_is_stable(reference: pl.DataFrame) -> None:
    current = generate_applications(6000, seed=12).select(*FEATURES)
    report = stability_report(reference, current, FEATURES)
    assert all(s.status == "stable" for s in report), report


def test_drifted_population_alerts_on_shifted_features(reference: pl.DataFrame) -> None:
    shift = Shift(income_scale=0.6, inquiries_add=2, region_weights={"east": 0.1, "northwest": 3.0})
    current = generate_applications(6000, seed=12, shift=shift).select(*FEATURES)
    status = {s.column: s.status for s in stability_report(reference, current, FEATURES)}
    assert status["monthly_income_minor"] == "alert" and status["inquiries_6m"] == "alert"
    assert status["region"] == "alert" and status["age"] == "stable"


def test_new_category_counts_as_drift() -> None:
    ref = pl.Series("g", ["a"] * 50 + ["b"] * 50)
    cur = pl.Series("g", ["a"] * 50 + ["c"] * 50)
    assert stability(ref, cur) > 0.25


def test_performance_and_calibration_drift(reference: pl.DataFrame) -> None:
    assert performance(reference["default_12m"], reference["pd_true"])["auc"] > 0.6
    rng = np.random.default_rng(0)
    current = reference.with_columns(
        pl.Series("pd_true", rng.uniform(0, 1, reference.height)))  # a model that lost its signal
    drift = performance_drift(reference, current, "default_12m", "pd_true")
    assert "auc_drop" in drift["alerts"] and "calibration_drift" in drift["alerts"]
    assert len(drift["calibration"]) == 10
    assert performance_drift(reference, reference, "default_12m", "pd_true")["alerts"] == []


def test_missing_column_is_named(reference: pl.DataFrame) -> None:
    with pytest.raises(DriftInputError, match=r"current\.region"):
        stability_report(reference, reference.drop("region"), ["region"])
    with pytest.raises(DriftInputError, match="outcome"):
        performance([0, 0, 0], [0.1, 0.2, 0.3])


def test_a_few_bads_raise_no_alert(reference: pl.DataFrame) -> None:
    """29 bads (the report that cried wolf): a model with no signal left on them shows its AUC
    and interval, but the status is insufficient_data and nothing alerts."""
    bads = reference.filter(pl.col("default_12m") == 1).head(29)
    goods = reference.filter(pl.col("default_12m") == 0).head(400)
    rng = np.random.default_rng(1)
    current = pl.concat([bads, goods]).with_columns(pl.Series("pd_true", rng.uniform(0, 0.3, 429)))
    drift = performance_drift(reference, current, "default_12m", "pd_true")
    assert drift["current"]["bads"] == 29 and drift["reference"]["auc"] - drift["current"]["auc"] > 0.05
    assert drift["alerts"] == [] and drift["status"] == "insufficient_data"
    low, high = drift["current"]["auc_ci95"]
    assert low < drift["current"]["auc"] < high


def test_auc_drop_alert_needs_significance(reference: pl.DataFrame) -> None:
    """A blurred model on 6,000 loans (500 bads): the drop is beyond the threshold and the
    reference AUC lies above the current interval, so it alerts; the same drop with the
    reference inside the interval is only watched."""
    rng = np.random.default_rng(2)
    blurred = reference.with_columns(
        (pl.col("pd_true") + pl.Series(rng.normal(0, 0.12, reference.height))).clip(0.001, 0.999))
    full = performance_drift(reference, blurred, "default_12m", "pd_true")
    drop = full["reference"]["auc"] - full["current"]["auc"]
    assert drop > 0.05 and full["reference"]["auc"] > full["current"]["auc_ci95"][1]
    assert "auc_drop" in full["alerts"] and full["status"] == "alert"
    inside = {**full["current"], "auc_ci95": [full["current"]["auc"] - 0.1, full["reference"]["auc"] + 0.01]}
    assert judge_performance(inside, full["reference"]["auc"], None) == ([], "watch")
