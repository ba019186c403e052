from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import shap  # type: ignore[import-untyped]
from sklearn.base import clone  # type: ignore[import-untyped]
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from tests.scoring.conftest import make_frame

from lendstack.scoring import CalibratedModel, CreditModel, GBMModel, LGDModel, ScorecardModel, expected_loss
from lendstack.scoring.evaluation import brier, ece, evaluate, ks, pd_to_score, psi_between


def _data(rows: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    y = (rng.random(rows) < 1 / (1 + np.exp(-(-1.0 + 1.5 * X[:, 0] - 0.7 * X[:, 1])))).astype(int)
    return X, y


def test_estimator_api_clone_and_params() -> None:
    for model in (GBMModel(n_estimators=50), ScorecardModel(pdo=40), CalibratedModel(GBMModel(n_estimators=20))):
        copy = clone(model)
        assert copy.get_params().keys() == model.get_params().keys()
        assert not any(key.endswith("_") for key in vars(copy))  # nothing learned before fit


def test_gbm_monotone_constraint_respected() -> None:
    X, y = _data()
    model = GBMModel(monotone={"x1": -1}, feature_names=["x0", "x1", "x2"], n_estimators=200, n_jobs=1).fit(X, y)
    grid = np.linspace(-3, 3, 61)
    for row in X[:20]:
        probe = np.repeat(row[None, :], grid.size, axis=0)
        probe[:, 1] = grid
        assert np.all(np.diff(model.decision_function(probe)) <= 1e-12)


def test_scorecard_scaling_and_monotone_points() -> None:
    X, y = _data()
    model = ScorecardModel(feature_names=["x0", "x1", "x2"], monotonic_trend={"x0": "ascending"}).fit(X, y)
    logit = model.decision_function(X[:50])
    expected = model.offset_ - model.factor_ * logit
    np.testing.assert_allclose(model.score(X[:50]), expected, atol=1e-9)
    # base 600 at good:bad odds 50:1, +20 points per doubling: exact
    np.testing.assert_allclose(pd_to_score([1 / 51, 1 / 101]), [600.0, 620.0], atol=1e-9)
    assert model.offset_ - model.factor_ * math.log(1 / 50) == pytest.approx(600.0)
    x0_points = [r["points"] for r in model.points_table_ if r["feature"] == "x0" and r["bin"] not in
                 ("Special", "Missing")]
    assert np.all(np.diff(x0_points) <= 1e-9)  # bad rate ascending in x0 → points descending


def test_calibration_improves_miscalibrated_model() -> None:
    X, y = _data(4000, 1)

    class Overconfident(GBMModel):
        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            p = 1 / (1 + np.exp(-3.0 * self.decision_function(X)))
            return np.column_stack([1 - p, p])

    for method in ("isotonic", "sigmoid"):
        overconfident = Overconfident(n_estimators=100, validation_fraction=0, n_jobs=1)
        model = CalibratedModel(overconfident, method=method).fit(X, y)
        report = model.report_
        assert report["brier_after"] < report["brier_before"]
        assert report["ece_after"] < report["ece_before"]
        X_new, y_new = _data(3000, 2)
        raw = model.estimator_.predict_proba(X_new)[:, 1]
        assert ece(y_new, model.predict_proba(X_new)[:, 1]) < ece(y_new, raw)


def test_metrics_match_sklearn_and_hand_ks() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    p = np.array([0.1, 0.3, 0.35, 0.8, 0.2, 0.9, 0.6, 0.4])
    result = evaluate(y, p)
    assert result["auc"] == pytest.approx(roc_auc_score(y, p))
    assert result["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1)
    # goods ≤ 0.3: 3/4, bads ≤ 0.3: 0 → KS = 0.75 (the largest CDF gap, by hand)
    assert ks(y, p) == pytest.approx(0.75)
    assert brier(y, p) == pytest.approx(np.mean((p - y) ** 2))
    assert psi_between(p, p) == pytest.approx(0.0)


def test_lgd_and_expected_loss() -> None:
    rng = np.random.default_rng(3)
    collateral = rng.integers(0, 3, 2000).astype(float)
    recovery = np.clip(0.2 + 0.3 * collateral + rng.normal(0, 0.05, 2000), 0, 1)
    model = LGDModel(n_estimators=100, n_jobs=1).fit(collateral.reshape(-1, 1), recovery)
    lgd = model.predict(np.array([[0.0], [2.0]]))
    assert lgd[0] > lgd[1] and np.all((lgd >= 0) & (lgd <= 1))
    np.testing.assert_allclose(expected_loss([0.1], [0.5], [1000.0]), [50.0])


def test_gbm_contributions_match_shap(gbm: CreditModel, frame) -> None:  # type: ignore[no-untyped-def]
    matrix = gbm.features(frame.head(200))
    ours = gbm.base.contributions(matrix)[:, :-1]
    theirs = shap.TreeExplainer(gbm.base.booster_).shap_values(matrix)
    np.testing.assert_allclose(ours, np.asarray(theirs), atol=1e-6)


def test_compiled_forest_equals_lightgbm(gbm: CreditModel, frame) -> None:  # type: ignore[no-untyped-def]
    matrix = gbm.features(frame)
    np.testing.assert_allclose(gbm.compiled().raw_batch(matrix), gbm.base.decision_function(matrix), atol=1e-9)
    rows = frame.head(100).to_dicts()
    online = [gbm.predict_pd_one(row) for row in rows]
    np.testing.assert_allclose(online, gbm.predict_pd(frame.head(100)), atol=1e-9)


def _messy_sample(rows: int, seed: int) -> pl.DataFrame:
    """Applications the model never saw: missing values everywhere, unseen and odd-cased levels."""
    rng = np.random.default_rng(seed)
    base = make_frame(rows, seed).drop("target")
    holes = {name: rng.random(rows) < 0.15 for name in base.columns}
    frame = base.with_columns(
        [pl.when(pl.Series(holes[name])).then(None).otherwise(pl.col(name)).alias(name) for name in base.columns]
    )
    odd = pl.Series(rng.choice(["space tourism", "Retail", "farming"], rows))
    shouted = pl.Series(rng.random(rows) < 0.1)
    return frame.with_columns(
        pl.when(pl.Series(rng.random(rows) < 0.1)).then(odd).otherwise(pl.col("segment")).alias("segment"),
        pl.when(shouted).then(pl.lit("YES")).otherwise(pl.col("owns_home")).alias("owns_home"),
        (pl.col("debt_ratio") * 3 - 1).alias("debt_ratio"),  # outside the training range too
    )


def test_online_equals_batch_exactly_on_a_large_random_sample(gbm: CreditModel) -> None:
    sample = _messy_sample(5000, 11)
    batch = gbm.predict_pd(sample)
    online = np.array([gbm.predict_pd_one(row) for row in sample.to_dicts()])
    np.testing.assert_array_equal(online, batch)  # bit-identical, not merely close
    matrix = gbm.features(sample)
    assert np.isnan(matrix).any()
    np.testing.assert_allclose(gbm.compiled().raw_batch(matrix), gbm.base.decision_function(matrix), atol=1e-9)
    np.testing.assert_allclose(gbm.compiled().raw_batch_numpy(matrix), gbm.base.decision_function(matrix), atol=1e-9)
    np.testing.assert_allclose(batch, gbm.model.predict_proba(matrix)[:, 1], atol=1e-12)  # = LightGBM's path


def test_numpy_fallback_without_numba(gbm: CreditModel, monkeypatch: pytest.MonkeyPatch) -> None:
    from lendstack.scoring import compiled

    sample = _messy_sample(500, 12)
    expected = gbm.predict_pd(sample)
    monkeypatch.setattr(compiled, "_kernels", lambda: None)
    np.testing.assert_allclose(gbm.predict_pd(sample), expected, atol=1e-12)
    online = [gbm.predict_pd_one(row) for row in sample.head(50).to_dicts()]
    np.testing.assert_allclose(online, expected[:50], atol=1e-12)
