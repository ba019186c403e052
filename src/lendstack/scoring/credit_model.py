"""`CreditModel`: feature pipeline + calibrated PD model + what is needed to explain and monitor it,
and `train_credit_model`, which builds one from any frame with a binary target (with the §7 checks).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from lendstack.scoring import evaluation
from lendstack.scoring.compiled import CompiledForest
from lendstack.scoring.errors import DataError
from lendstack.scoring.explain import Reason, global_importance, top_reasons
from lendstack.scoring.features import DataWarning, FeaturePipeline, FeatureSpec, as_polars, check_leaks, encode_target
from lendstack.scoring.models import CalibratedModel, GBMModel, ScorecardModel

FloatArray = npt.NDArray[np.float64]
ModelKind = Literal["scorecard", "gbm"]
Progress = Callable[[str], None]
EXPLAIN_SAMPLE_ROWS = 2000


@dataclass
class CreditModel:
    kind: ModelKind
    target: str
    bad_value: str | None
    pipeline: FeaturePipeline
    model: CalibratedModel
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    dev_score_edges: list[float] = field(default_factory=list)
    dev_score_shares: list[float] = field(default_factory=list)
    # Held-out applications' raw feature values (≤ EXPLAIN_SAMPLE_ROWS, in file order) and their row
    # numbers in the training data, so `model explain --row N` needs no data file. Pickled in the
    # model file, so the content hash covers them.
    explain_sample: pl.DataFrame | None = field(default=None, repr=False)
    explain_sample_rows: list[int] = field(default_factory=list, repr=False)
    _compiled: CompiledForest | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> FeatureSpec:
        return self.pipeline.spec_  # type: ignore[no-any-return]

    @property
    def base(self) -> Any:
        """The uncalibrated scorecard or GBM."""
        return self.model.estimator_

    def features(self, frame: Any) -> FloatArray:
        return self.pipeline.transform(frame)

    def predict_pd(self, frame: Any) -> FloatArray:
        """PDs of a batch; the GBM goes through the compiled forest (rows in parallel)."""
        matrix = self.features(frame)
        if self.kind != "gbm":
            return self.model.predict_proba(matrix)[:, 1]
        return self.pd_from_raw(self.compiled().raw_batch(matrix))

    def predict_pd_one(self, row: dict[str, Any]) -> float:
        """PD of one application: the same feature values, tree walk and calibration as the batch
        path (no LightGBM call), so it equals the batch PD exactly."""
        x = self.pipeline.transform_row(row)
        if self.kind != "gbm":
            return float(self.model.predict_proba(x.reshape(1, -1))[0, 1])
        return float(self.pd_from_raw(np.array([self.compiled().raw_one(x)]))[0])

    def pd_from_raw(self, raw: FloatArray) -> FloatArray:
        """Log-odds → the GBM's PD (as `GBMModel.predict_proba`) → calibrated PD."""
        return self.model.calibrate(1.0 / (1.0 + np.exp(-raw)))

    def compiled(self) -> CompiledForest:
        assert self.kind == "gbm", "only the GBM compiles"
        if self._compiled is None:
            self._compiled = CompiledForest.from_booster(self.base.booster_)
        return self._compiled

    def scores(self, pd: Any) -> FloatArray:
        return evaluation.pd_to_score(pd)

    def impacts(self, matrix: FloatArray) -> tuple[FloatArray, list[str]]:
        """Adverse impact per feature: SHAP log-odds (GBM) or points below the best bin (scorecard)."""
        if self.kind == "gbm":
            return self.base.contributions(matrix)[:, :-1], self.spec.names
        scorecard: ScorecardModel = self.base
        return scorecard.max_points() - scorecard.points(matrix), scorecard.selected_features()

    def explain(self, frame: Any, k: int = 4) -> list[list[Reason]]:
        matrix = self.features(frame)
        impacts, names = self.impacts(matrix)
        return [top_reasons(self.spec, matrix[i], impacts[i], names, k) for i in range(matrix.shape[0])]

    def importance(self, frame: Any) -> dict[str, float]:
        impacts, names = self.impacts(self.features(frame))
        return global_importance(impacts, names)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_compiled"] = None  # rebuilt from the booster on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("explain_sample", None)  # artifacts written before the sample existed
        state.setdefault("explain_sample_rows", [])
        self.__dict__.update(state)


@dataclass(frozen=True)
class TrainOptions:
    kind: ModelKind = "gbm"
    bad_value: str | None = None
    allow_leaks: bool = False
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    test_fraction: float = 0.2
    seed: int = 0
    monotone: dict[str, int] = field(default_factory=dict)  # feature → +1 (PD rises with it) / −1
    gbm_params: dict[str, Any] = field(default_factory=dict)
    scorecard_params: dict[str, Any] = field(default_factory=dict)


def data_fingerprint(frame: pl.DataFrame) -> str:
    """sha256 of the canonical data: columns sorted by name, written as CSV."""
    canonical = frame.select(sorted(frame.columns))
    return hashlib.sha256(canonical.write_csv().encode()).hexdigest()


def build_estimator(kind: ModelKind, names: list[str], options: TrainOptions) -> Any:
    if kind == "gbm":
        return GBMModel(feature_names=names, monotone=options.monotone or None, random_state=options.seed,
                        **options.gbm_params)
    trends = {name: "ascending" if sign > 0 else "descending" for name, sign in options.monotone.items() if sign}
    return ScorecardModel(feature_names=names, monotonic_trend=trends or None, **options.scorecard_params)


def train_credit_model(
    data: Any, target: str, options: TrainOptions, progress: Progress | None = None
) -> tuple[CreditModel, list[str]]:
    """Validate, fit on a stratified train split, evaluate on the held-out test split.

    Returns the model and the warnings (dropped columns, ...) as text. Raises DataError naming the
    column for a bad target, unusable data or a leaking feature.
    """
    say = progress or (lambda _message: None)
    frame = as_polars(data)
    if target not in frame.columns:
        raise DataError(target, f"target column not found; columns are {', '.join(frame.columns[:20])}")
    y = encode_target(frame.get_column(target), options.bad_value)
    X = frame.drop(target)
    say(f"{frame.height} rows, {X.width} candidate features, bad rate {y.mean():.2%}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        train_idx, test_idx = train_test_split(
            np.arange(len(y)), test_size=options.test_fraction, stratify=y, random_state=options.seed
        )
        pipeline = FeaturePipeline().fit(X[train_idx], y[train_idx])
    notes = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    matrix = pipeline.transform(X)
    unknown = set(options.monotone) - set(pipeline.spec_.names)
    if unknown:
        raise DataError(sorted(unknown)[0], "monotone constraint for a column that is not a feature")
    if not options.allow_leaks:
        say("checking single-feature separation (leaks)")
        check_leaks(matrix[train_idx], y[train_idx], pipeline.spec_.names)
    say(f"fitting the {options.kind} model on {len(train_idx)} rows")
    estimator = build_estimator(options.kind, pipeline.spec_.names, options)
    model = CalibratedModel(estimator, method=options.calibration, random_state=options.seed)
    model.fit(matrix[train_idx], y[train_idx])
    say(f"evaluating on {len(test_idx)} held-out rows")
    credit = _assemble(frame, target, options, pipeline, model)
    credit.metrics = _held_out_metrics(credit, matrix, y, train_idx, test_idx)
    _keep_explain_sample(credit, X, test_idx)
    return credit, notes


def _keep_explain_sample(credit: CreditModel, X: pl.DataFrame, test_idx: Any) -> None:
    """A random held-out sample (`test_idx` is shuffled), capped, kept in file order."""
    rows = np.sort(np.asarray(test_idx)[:EXPLAIN_SAMPLE_ROWS])
    credit.explain_sample = X.select(credit.spec.names)[rows]
    credit.explain_sample_rows = [int(row) for row in rows]


def _assemble(
    frame: pl.DataFrame, target: str, options: TrainOptions, pipeline: FeaturePipeline, model: CalibratedModel
) -> CreditModel:
    params = {"kind": options.kind, "calibration": options.calibration, "seed": options.seed,
              "test_fraction": options.test_fraction, "monotone": options.monotone,
              "estimator": {k: v for k, v in model.estimator_.get_params().items() if k != "feature_names"}}
    return CreditModel(options.kind, target, options.bad_value, pipeline, model, params=params,
                       data_fingerprint=data_fingerprint(frame))


def _held_out_metrics(
    credit: CreditModel, matrix: FloatArray, y: npt.NDArray[np.int8], train_idx: Any, test_idx: Any
) -> dict[str, Any]:
    p_dev = credit.model.predict_proba(matrix[train_idx])[:, 1]
    credit.dev_score_edges = evaluation.quantile_edges(evaluation.pd_to_score(p_dev))
    credit.dev_score_shares = evaluation.bin_shares(evaluation.pd_to_score(p_dev), credit.dev_score_edges)
    p_test = credit.model.predict_proba(matrix[test_idx])[:, 1]
    metrics = evaluation.evaluate(
        y[test_idx], p_test, features=matrix[test_idx], feature_names=credit.spec.names,
        dev_score_edges=credit.dev_score_edges, dev_score_shares=credit.dev_score_shares,
    )
    metrics["auc_train"] = evaluation.auc(y[train_idx], p_dev)
    metrics["calibration_fit"] = dict(credit.model.report_)
    return metrics


def evaluate_credit_model(credit: CreditModel, data: Any, target: str, bad_value: str | None) -> dict[str, Any]:
    """Score a labelled frame and compute every metric, with PSI against the development sample."""
    frame = as_polars(data)
    if target not in frame.columns:
        raise DataError(target, "target column not found")
    y = encode_target(frame.get_column(target), bad_value if bad_value is not None else credit.bad_value, min_bads=1)
    matrix = credit.features(frame)
    p = credit.model.predict_proba(matrix)[:, 1]
    return evaluation.evaluate(
        y, p, features=matrix, feature_names=credit.spec.names,
        dev_score_edges=credit.dev_score_edges, dev_score_shares=credit.dev_score_shares,
    )


def cv_folds_auc(X: pl.DataFrame, y: npt.NDArray[np.int8], folds: int = 5, seed: int = 0,
                 repeats: int = 1, gbm_params: dict[str, Any] | None = None) -> dict[str, float]:
    """Mean out-of-fold AUC of the (uncalibrated) GBM and scorecard with default parameters (the
    GBM's overridden by `gbm_params`, e.g. `n_jobs`); the feature pipeline is refitted inside every
    fold, so nothing is learned from the test fold."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores: dict[str, list[float]] = {"gbm": [], "scorecard": []}
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            pipe = FeaturePipeline().fit(X[train_idx], y[train_idx])
        train, test = pipe.transform(X[train_idx]), pipe.transform(X[test_idx])
        for kind in ("gbm", "scorecard"):
            options = TrainOptions(kind=kind, seed=seed, gbm_params=gbm_params or {})  # type: ignore[arg-type]
            model = build_estimator(kind, pipe.spec_.names, options)  # type: ignore[arg-type]
            p = model.fit(train, y[train_idx]).predict_proba(test)[:, 1]
            scores[kind].append(evaluation.auc(y[test_idx], p))
    return {kind: float(np.mean(values)) for kind, values in scores.items()}
