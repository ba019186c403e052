"""PD and LGD models with the scikit-learn estimator API (params in the constructor, fitted
attributes end in `_`). They take the float64 matrix of `FeaturePipeline` (NaN = missing).

- `ScorecardModel`: optimal monotone binning (optbinning) → WoE → logistic regression, scaled to
  points (base 600 at good:bad odds 50:1, 20 points to double the odds, all configurable).
- `GBMModel`: LightGBM with per-feature monotone constraints, early stopping on a validation
  fold, deterministic seeds.
- `CalibratedModel`: isotonic or Platt calibration fitted on held-out data.
- `LGDModel`: gradient boosting on the recovery rate (cross-entropy objective, so predictions stay
  in [0, 1]); `expected_loss` = PD × LGD × EAD.

Reject inference (re-weighting or augmenting the declined applicants whose outcomes are never
observed) is out of scope: the models learn from approved, matured loans only, so their PDs are
conditional on the past approval policy.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import lightgbm as lgb  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone  # type: ignore[import-untyped]
from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from lendstack.scoring import evaluation

FloatArray = npt.NDArray[np.float64]
_LOGIT_CLIP = 1e-12


def _drop_highs_import_error(record: logging.LogRecord) -> bool:
    """optbinning imports cvxpy, which probes every solver and logs a failed import. highspy and
    ortools bundle two builds of the HiGHS library that cannot load into one process, so its HIGHS
    probe always fails once ortools (which optbinning needs) is loaded. We never use cvxpy's HIGHS
    solver: drop exactly that record, keep every other cvxpy message."""
    return not record.getMessage().startswith("Encountered unexpected exception importing solver HIGHS")


logging.getLogger("__cvxpy__").addFilter(_drop_highs_import_error)  # the logger cvxpy.settings configures


def _names(feature_names: list[str] | None, width: int) -> list[str]:
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(width)]
    assert len(names) == width, f"{len(names)} feature names for {width} columns"
    return names


def _two_columns(p_bad: FloatArray) -> FloatArray:
    return np.column_stack([1.0 - p_bad, p_bad])


def _logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, _LOGIT_CLIP, 1 - _LOGIT_CLIP)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


# --------------------------------------------------------------------------- scorecard


class ScorecardModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Binned logistic scorecard.

    `monotonic_trend` maps feature → optbinning trend ("ascending" = bad rate rises with the
    value, "descending", "auto_asc_desc", ...); others use `default_trend`. Features whose IV is
    below `min_iv` are left out. Points: score = offset + factor·ln(good:bad odds), factor =
    pdo / ln 2, offset = base_points − factor·ln(base_odds); the intercept is spread evenly.

    Sign check (`sign_check`): optbinning's WoE is ln(share of goods / share of bads) in the bin,
    so riskier bins have lower WoE and every coefficient of the log-odds of bad on WoE must be
    ≤ 0; then points = constant − factor·coef·WoE fall as a bin's bad rate rises. A positive
    coefficient (collinear features) would give riskier bins more points: the feature with the
    largest positive coefficient is dropped and the regression refitted, until none is left.
    `sign_dropped_` lists (feature, coefficient, message); `notes_` the messages.
    """

    def __init__(
        self,
        feature_names: list[str] | None = None,
        monotonic_trend: dict[str, str] | None = None,
        default_trend: str = "auto_asc_desc",
        max_n_bins: int = 8,
        min_bin_size: float = 0.05,
        min_iv: float = 0.02,
        C: float = 1.0,
        base_points: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        sign_check: bool = True,
    ) -> None:
        self.feature_names = feature_names
        self.monotonic_trend = monotonic_trend
        self.default_trend = default_trend
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.min_iv = min_iv
        self.C = C
        self.base_points = base_points
        self.base_odds = base_odds
        self.pdo = pdo
        self.sign_check = sign_check

    def fit(self, X: FloatArray, y: Any) -> ScorecardModel:
        from optbinning import BinningProcess  # type: ignore[import-untyped]

        X = np.asarray(X, dtype=np.float64)
        y_arr = np.asarray(y).astype(int)
        names = _names(self.feature_names, X.shape[1])
        trends = self.monotonic_trend or {}
        params = {name: {"monotonic_trend": trends.get(name, self.default_trend)} for name in names}
        selection = {"iv": {"min": self.min_iv}}
        self.binning_ = BinningProcess(
            names, max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size,
            binning_fit_params=params, selection_criteria=selection,
        ).fit(X, y_arr)
        if not np.any(self.binning_.get_support()):  # nothing informative: keep every feature, not none
            self.binning_ = BinningProcess(
                names, max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size, binning_fit_params=params
            ).fit(X, y_arr)
        binned = np.flatnonzero(self.binning_.get_support())
        woe = self._binned_woe(X)
        assert woe.shape[1] == binned.size, "optbinning returns one WoE column per selected feature"
        self.logistic_, kept, self.sign_dropped_ = self._fit_logistic(woe, y_arr, [names[i] for i in binned])
        self.woe_columns_ = np.asarray(kept, dtype=np.int64)
        self.support_ = np.zeros(len(names), dtype=bool)
        self.support_[binned[self.woe_columns_]] = True
        self.notes_ = [message for _, _, message in self.sign_dropped_]
        self.integer_valued_ = _integer_valued(X)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.points_table_ = self._points_table()
        return self

    def _fit_logistic(
        self, woe: FloatArray, y: npt.NDArray[np.int64], names: list[str]
    ) -> tuple[Any, list[int], list[tuple[str, float, str]]]:
        """The logistic regression on WoE, after the sign check (see the class docstring)."""
        kept = list(range(woe.shape[1]))
        dropped: list[tuple[str, float, str]] = []
        for _ in range(max(1, len(kept))):  # bounded: every round but the last drops a feature
            logistic = LogisticRegression(C=self.C, max_iter=1000).fit(woe[:, kept], y)
            coef = logistic.coef_[0]
            # One feature alone always has a coefficient ≤ 0 (WoE falls as the bad rate rises).
            if not self.sign_check or len(kept) == 1 or np.all(coef <= 0):
                break
            worst = int(np.argmax(coef))
            column = kept.pop(worst)
            message = _wrong_sign_message(names[column], float(coef[worst]), woe, column, kept, names)
            dropped.append((names[column], float(coef[worst]), message))
        assert not self.sign_check or len(kept) == 1 or np.all(logistic.coef_[0] <= 0), "sign check loop bound"
        return logistic, kept, dropped

    def _binned_woe(self, X: FloatArray) -> FloatArray:
        full = self.binning_.transform(np.asarray(X, dtype=np.float64), metric="woe", metric_missing="empirical")
        return np.asarray(full, dtype=np.float64)  # optbinning returns the features its IV selected

    def _woe(self, X: FloatArray) -> FloatArray:
        """WoE of the model's features: those optbinning selected, less the sign-check drops."""
        return self._binned_woe(X)[:, self.woe_columns_]

    @property
    def factor_(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset_(self) -> float:
        return self.base_points - self.factor_ * math.log(self.base_odds)

    def decision_function(self, X: FloatArray) -> FloatArray:
        """Log-odds of bad."""
        return np.asarray(self.logistic_.decision_function(self._woe(X)), dtype=np.float64)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        return _two_columns(1.0 / (1.0 + np.exp(-self.decision_function(X))))

    def predict(self, X: FloatArray) -> npt.NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def points(self, X: FloatArray) -> FloatArray:
        """Points per selected feature (rows × selected features); they sum to `score`."""
        coef = self.logistic_.coef_[0]
        per_feature_constant = (self.offset_ - self.factor_ * self.logistic_.intercept_[0]) / coef.size
        return np.asarray(per_feature_constant - self.factor_ * coef * self._woe(X), dtype=np.float64)

    def score(self, X: FloatArray, y: Any = None) -> Any:  # sklearn's score(X, y) is accuracy
        if y is not None:
            return super().score(X, y)
        return self.points(X).sum(axis=1)

    def selected_features(self) -> list[str]:
        return [str(name) for name in self.feature_names_in_[self.support_]]

    def _points_table(self) -> list[dict[str, Any]]:
        coef = self.logistic_.coef_[0]
        constant = (self.offset_ - self.factor_ * self.logistic_.intercept_[0]) / coef.size
        rows = []
        for j, name in enumerate(self.selected_features()):
            table = self.binning_.get_binned_variable(name).binning_table.build()
            for label, record in table.iterrows():
                if label == "Totals" or float(record["Count"]) == 0:
                    continue
                woe = float(record["WoE"])
                rows.append(
                    {"feature": name, "bin": str(record["Bin"]), "count": int(record["Count"]),
                     "bad_rate": float(record["Event rate"]), "woe": woe,
                     "points": float(constant - self.factor_ * coef[j] * woe)}
                )
        return rows

    def max_points(self) -> FloatArray:
        """Per selected feature, the best points any non-empty bin gives (for reason codes)."""
        best = {name: -math.inf for name in self.selected_features()}
        for row in self.points_table_:
            best[row["feature"]] = max(best[row["feature"]], row["points"])
        return np.array([best[name] for name in self.selected_features()], dtype=np.float64)

    def iv(self) -> dict[str, float]:
        summary = self.binning_.summary()
        return {str(row["name"]): float(row["iv"]) for _, row in summary.iterrows()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Scorecards saved before the sign check used every feature optbinning selected.
        if "support_" in state and "woe_columns_" not in state:
            state["woe_columns_"] = np.arange(int(np.sum(state["support_"])), dtype=np.int64)
            state["sign_dropped_"] = []
            state["notes_"] = []
        if "n_features_in_" in state:  # unknown before: the points table then shows decimal bounds
            state.setdefault("integer_valued_", np.zeros(int(state["n_features_in_"]), dtype=bool))
        state.setdefault("sign_check", False)
        super().__setstate__(state)


def _integer_valued(X: FloatArray) -> npt.NDArray[np.bool_]:
    """Per column: every present training value is a whole number (codes, counts, months), so the
    points table can show bins as inclusive integer ranges ("12–15") instead of decimal bounds."""
    filled = np.where(np.isfinite(X), X, 0.0)  # missing values do not make a column fractional
    whole = np.floor(filled) == filled
    return np.asarray(np.all(whole, axis=0), dtype=bool)


def _wrong_sign_message(
    name: str, coef: float, woe: FloatArray, column: int, others: list[int], names: list[str]
) -> str:
    """Why `name` left the scorecard, naming the remaining feature its WoE correlates with most."""
    text = (f"{name}: dropped: its coefficient on WoE has the wrong sign ({coef:+.2f}): "
            "riskier bins would earn more points")
    with np.errstate(invalid="ignore", divide="ignore"):
        correlations = [(float(np.corrcoef(woe[:, column], woe[:, other])[0, 1]), other) for other in others]
    finite = [(r, other) for r, other in correlations if math.isfinite(r)]
    if not finite:
        return text
    r, other = max(finite, key=lambda pair: abs(pair[0]))
    return f"{text} (collinear with {names[other]}? WoE correlation {r:+.2f})"


# --------------------------------------------------------------------------- gradient boosting


class GBMModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """LightGBM binary PD model.

    `monotone` maps feature → +1 (PD rises with the value), −1 (falls) or 0. Early stopping uses a
    stratified `validation_fraction` of the training data; with `refit_full` the final model is
    refit on all of it for the best number of rounds (small data should not lose a fifth).
    """

    def __init__(
        self,
        feature_names: list[str] | None = None,
        monotone: dict[str, int] | None = None,
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        max_depth: int = 6,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.7,
        reg_lambda: float = 5.0,
        validation_fraction: float = 0.2,
        early_stopping_rounds: int = 100,
        refit_full: bool = True,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.feature_names = feature_names
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.refit_full = refit_full
        self.random_state = random_state
        self.n_jobs = n_jobs

    def lgb_params(self, names: list[str]) -> dict[str, Any]:
        monotone = self.monotone or {}
        unknown = set(monotone) - set(names)
        assert not unknown, f"monotone constraints for unknown features: {sorted(unknown)}"
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "monotone_constraints": [int(monotone.get(name, 0)) for name in names],
            "monotone_constraints_method": "advanced",
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    def fit(self, X: FloatArray, y: Any) -> GBMModel:
        X = np.asarray(X, dtype=np.float64)
        y_arr = np.asarray(y).astype(int)
        names = _names(self.feature_names, X.shape[1])
        params = self.lgb_params(names)
        rounds = self._best_rounds(X, y_arr, params, names)
        self.booster_ = lgb.train(params, lgb.Dataset(X, y_arr, feature_name=_safe(names)), num_boost_round=rounds)
        self.best_iteration_ = rounds
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _best_rounds(self, X: FloatArray, y: npt.NDArray[np.int64], params: dict[str, Any], names: list[str]) -> int:
        if self.validation_fraction <= 0:
            return self.n_estimators
        fit_idx, val_idx = train_test_split(
            np.arange(len(y)), test_size=self.validation_fraction, stratify=y, random_state=self.random_state
        )
        train_set = lgb.Dataset(X[fit_idx], y[fit_idx], feature_name=_safe(names))
        valid_set = lgb.Dataset(X[val_idx], y[val_idx], reference=train_set)
        booster = lgb.train(
            {**params, "metric": "binary_logloss"},
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        best = max(1, int(booster.best_iteration or self.n_estimators))
        # Refit on more rows: scale the rounds by the data growth (a common heuristic).
        return round(best / (1 - self.validation_fraction)) if self.refit_full else best

    def decision_function(self, X: FloatArray) -> FloatArray:
        """Raw score: log-odds of bad."""
        return np.asarray(self.booster_.predict(np.asarray(X, dtype=np.float64), raw_score=True), dtype=np.float64)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        return _two_columns(1.0 / (1.0 + np.exp(-self.decision_function(X))))

    def predict(self, X: FloatArray) -> npt.NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def contributions(self, X: FloatArray) -> FloatArray:
        """TreeSHAP contributions to the log-odds (rows × features+1; the last column is the bias)."""
        out = self.booster_.predict(np.asarray(X, dtype=np.float64), pred_contrib=True)
        return np.asarray(out, dtype=np.float64)

    def importance(self) -> dict[str, float]:
        gains = self.booster_.feature_importance(importance_type="gain")
        return {str(n): float(g) for n, g in zip(self.feature_names_in_, gains, strict=True)}

    def __getstate__(self) -> dict[str, Any]:
        # Persist the booster as LightGBM's own model text: stable across versions and inspectable.
        state = dict(self.__dict__)
        if "booster_" in state:
            state["booster_"] = state["booster_"].model_to_string()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("booster_"), str):
            state["booster_"] = lgb.Booster(model_str=state["booster_"])
        self.__dict__.update(state)


def _safe(names: list[str]) -> list[str]:
    """LightGBM rejects some characters in feature names; the model keeps the real names itself."""
    return [f"f{i}" for i in range(len(names))]


# --------------------------------------------------------------------------- calibration


class CalibratedModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Fit `estimator` on part of the data and a calibrator (isotonic or Platt) on the rest.

    `report_` holds Brier and ECE on the calibration fold before and after (the "after" figures
    are in-sample for the calibrator; evaluate on a test set for an honest number).
    """

    def __init__(
        self,
        estimator: Any = None,
        method: Literal["isotonic", "sigmoid"] = "sigmoid",
        calibration_fraction: float = 0.25,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: FloatArray, y: Any) -> CalibratedModel:
        assert self.method in ("isotonic", "sigmoid"), f"unknown calibration method {self.method!r}"
        y_arr = np.asarray(y).astype(int)
        fit_idx, cal_idx = train_test_split(
            np.arange(len(y_arr)), test_size=self.calibration_fraction, stratify=y_arr, random_state=self.random_state
        )
        self.estimator_ = clone(self.estimator if self.estimator is not None else GBMModel()).fit(
            X[fit_idx], y_arr[fit_idx]
        )
        raw = self.estimator_.predict_proba(X[cal_idx])[:, 1]
        self._fit_calibrator(raw, y_arr[cal_idx])
        after = self.calibrate(raw)
        self.report_ = {
            "brier_before": evaluation.brier(y_arr[cal_idx], raw),
            "brier_after": evaluation.brier(y_arr[cal_idx], after),
            "ece_before": evaluation.ece(y_arr[cal_idx], raw),
            "ece_after": evaluation.ece(y_arr[cal_idx], after),
        }
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_calibrator(self, raw: FloatArray, y: npt.NDArray[np.int64]) -> None:
        if self.method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            self.thresholds_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.values_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw).reshape(-1, 1), y)
            self.platt_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))

    def calibrate(self, p_raw: Any) -> FloatArray:
        """Map raw PDs to calibrated PDs (vectorised; also used on one row online)."""
        p = np.asarray(p_raw, dtype=np.float64)
        if self.method == "isotonic":
            return np.asarray(np.interp(p, self.thresholds_, self.values_), dtype=np.float64)
        slope, intercept = self.platt_
        return np.asarray(1.0 / (1.0 + np.exp(-(slope * _logit(p) + intercept))), dtype=np.float64)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        return _two_columns(self.calibrate(self.estimator_.predict_proba(X)[:, 1]))

    def predict(self, X: FloatArray) -> npt.NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


# --------------------------------------------------------------------------- LGD and EL


class LGDModel(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Loss given default = 1 − recovery rate, by gradient boosting with a cross-entropy objective
    on the recovery rate (labels in [0, 1], so predictions stay in [0, 1], as a beta regression's
    mean would). Feed it collateral type, segment and any other features."""

    def __init__(
        self,
        feature_names: list[str] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.feature_names = feature_names
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: FloatArray, recovery_rate: Any) -> LGDModel:
        rate = np.asarray(recovery_rate, dtype=np.float64)
        assert np.all((rate >= 0) & (rate <= 1)), "recovery rates must lie in [0, 1]"
        names = _names(self.feature_names, np.asarray(X).shape[1])
        params = {
            "objective": "cross_entropy", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "seed": self.random_state, "deterministic": True,
            "force_row_wise": True, "num_threads": self.n_jobs, "verbosity": -1,
        }
        dataset = lgb.Dataset(np.asarray(X, dtype=np.float64), rate, feature_name=_safe(names))
        self.booster_ = lgb.train(params, dataset, num_boost_round=self.n_estimators)
        self.n_features_in_ = len(names)
        return self

    def predict_recovery(self, X: FloatArray) -> FloatArray:
        return np.asarray(self.booster_.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)

    def predict(self, X: FloatArray) -> FloatArray:
        """LGD in [0, 1]."""
        return 1.0 - self.predict_recovery(X)

    def __getstate__(self) -> dict[str, Any]:
        return GBMModel.__getstate__(self)  # type: ignore[arg-type]

    def __setstate__(self, state: dict[str, Any]) -> None:
        GBMModel.__setstate__(self, state)  # type: ignore[arg-type]


def expected_loss(pd: Any, lgd: Any, ead: Any) -> FloatArray:
    """EL = PD × LGD × EAD (EAD in any unit; the result is in the same unit, as floats: an estimate,
    not money on the books)."""
    pd_arr, lgd_arr, ead_arr = (np.asarray(v, dtype=np.float64) for v in (pd, lgd, ead))
    assert np.all((pd_arr >= 0) & (pd_arr <= 1)) and np.all((lgd_arr >= 0) & (lgd_arr <= 1)), "PD, LGD in [0, 1]"
    return np.asarray(pd_arr * lgd_arr * ead_arr, dtype=np.float64)
