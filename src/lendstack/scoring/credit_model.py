"""`CreditModel`: feature pipeline + calibrated PD model + what is needed to explain and monitor it,
and `train_credit_model`, which builds one from any frame with a binary target (with the §7 checks).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from lendstack.scoring import evaluation
from lendstack.scoring.compiled import CompiledForest
from lendstack.scoring.dictionary import DataDictionary
from lendstack.scoring.errors import DataError
from lendstack.scoring.explain import Explainer, Reason, global_importance
from lendstack.scoring.fairness_audit import audit_held_out
from lendstack.scoring.features import (
    DataWarning,
    FeaturePipeline,
    FeatureSpec,
    LeakReport,
    TargetCoding,
    as_polars,
    check_leaks,
    encode_target,
    leak_report,
    target_coding,
)
from lendstack.scoring.models import CalibratedModel, GBMModel, ScorecardModel
from lendstack.scoring.protected import ProtectedColumn, detect_protected, excluded_columns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]
ModelKind = Literal["scorecard", "gbm"]
Progress = Callable[[str], None]
EXPLAIN_SAMPLE_ROWS = 2000
LEAK_THRESHOLD = 0.99  # a feature alone above this max(AUC, 1 − AUC) on all rows is refused as a leak
LEAK_WARN_FROM = 0.95  # from here up to the threshold it is kept with a warning
OOT_CLASS_ROWS_MIN = 10  # each side of an out-of-time split needs this many goods and bads
# The out-of-time split's date formats, tried in order; the first that reads every row wins
# (MM/DD/YYYY before DD/MM/YYYY: an ambiguous file is read the US way).
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S",
                "%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%Y年%m月%d日")


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
    # What the training saw and decided, JSON-ready (target coding, exclusions, protected columns,
    # leak check, split, data lineage, monotone constraints, held-out fairness and proxies); written
    # into manifest.json. Readers must tolerate missing keys: older artifacts have none.
    audit: dict[str, Any] = field(default_factory=dict, repr=False)
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

    def explain(self, frame: Any, k: int = 4, dictionary: DataDictionary | None = None) -> list[list[Reason]]:
        """The top k adverse reasons of each row: SHAP (GBM) or points lost (scorecard) for the size,
        the model's own direction (decision-path sides, or where the best bin lies) and readable texts
        from the data dictionary (`dictionary` overrides the one stored in `audit` for display)."""
        matrix = self.features(frame)
        impacts, names = self.impacts(matrix)
        explainer = Explainer.of(self, dictionary)
        return [explainer.reasons(matrix[i], impacts[i], names, k) for i in range(matrix.shape[0])]

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
        state.setdefault("audit", {})  # artifacts written before the audit existed
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
    protected: tuple[str, ...] = ()  # columns to exclude as protected attributes, besides those detected
    allow_protected: tuple[str, ...] = ()  # detected protected columns to keep as features (recorded)
    time_column: str | None = None  # out-of-time split: train before `oot_from`, hold out on/after it
    oot_from: str | date | None = None
    missing_tokens: tuple[str, ...] | None = None  # None: the feature pipeline's default tokens


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
    """Validate, exclude protected attributes, check for leaks on all rows, split (random or out of
    time), fit on the train split, evaluate and audit (fairness, proxies) on the held-out split.

    Returns the model and the warnings (exclusions, dropped columns, near-leaks) as text. Raises
    DataError naming the column (or option) for a bad target, unusable data or a leaking feature.
    """
    say = progress or (lambda _message: None)
    _check_options(options)
    frame = as_polars(data)
    if target not in frame.columns:
        raise DataError(target, f"target column not found; columns are {', '.join(frame.columns[:20])}")
    y, coding = target_coding(frame.get_column(target), options.bad_value)
    found = detect_protected(frame.drop(target), options.protected, options.allow_protected)
    dates = _time_values(frame, target, options)
    not_features = [target, *excluded_columns(found), *([options.time_column] if options.time_column else [])]
    X = frame.drop(list(dict.fromkeys(not_features)))
    say(f"{frame.height} rows, {X.width} candidate features, bad = {coding.bad_value!r}, bad rate {y.mean():.2%}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        full = _pipeline(options).fit(X, y)  # all rows, for the leak check
        _check_monotone_features(options, full.spec_.names, found)  # fail fast, before fitting anything
        leaks = _leak_check(full, X, y, options, say)
        train_idx, test_idx, split = _split(y, dates, options)
        pipeline = _pipeline(options).fit(X[train_idx], y[train_idx])
    notes = [item.warning() for item in found] + _unique(str(w.message) for w in caught
                                                         if issubclass(w.category, DataWarning))
    if options.allow_leaks:  # nothing refused: say what was kept
        notes += [_allowed_leak_note(name, leaks) for name in [*leaks.refused, *leaks.warned]]
    _check_monotone_features(options, pipeline.spec_.names, found)
    matrix = pipeline.transform(X)
    say(f"fitting the {options.kind} model on {len(train_idx)} rows")
    estimator = build_estimator(options.kind, pipeline.spec_.names, options)
    model = CalibratedModel(estimator, method=options.calibration, random_state=options.seed)
    model.fit(matrix[train_idx], y[train_idx])
    notes += list(getattr(model.estimator_, "notes_", []))  # the scorecard's sign check: what it dropped
    say(f"evaluating and auditing on {len(test_idx)} held-out rows")
    credit = _assemble(frame, target, coding.bad_value, options, pipeline, model)
    p_test = credit.model.predict_proba(matrix[test_idx])[:, 1]
    credit.metrics = _held_out_metrics(credit, matrix, y, train_idx, test_idx, p_test)
    credit.audit = _audit(credit.data_fingerprint, frame, coding, found, leaks, split, dates, options, pipeline)
    credit.audit["excluded"] += [{"column": str(column), "category": "sign", "reason": str(message)}
                                 for column, _coef, message in getattr(model.estimator_, "sign_dropped_", [])]
    held_out = {item.column: (item.attribute, frame.get_column(item.column).gather(test_idx)) for item in found}
    credit.audit["fairness"], credit.audit["proxies"] = audit_held_out(
        held_out, matrix[test_idx], pipeline.spec_.names, y[test_idx], p_test)
    notes += _proxy_notes(credit.audit["proxies"]) + _fairness_notes(credit.audit["fairness"])
    _keep_explain_sample(credit, X, test_idx)
    return credit, notes


def _check_options(options: TrainOptions) -> None:
    if not 0.0 < options.test_fraction < 1.0:
        raise DataError("test_fraction", f"must be between 0 and 1 (exclusive), not {options.test_fraction}")
    for column, sign in options.monotone.items():
        if sign not in (-1, 0, 1):
            raise DataError("monotone", f"{column}={sign}: the direction must be +1 (PD rises) or -1 (PD falls)")
    if (options.time_column is None) != (options.oot_from is None):
        field_name = "oot_from" if options.oot_from is None else "time_column"
        raise DataError(field_name, "an out-of-time split needs both --time-column and --oot-from")


def _pipeline(options: TrainOptions) -> FeaturePipeline:
    return FeaturePipeline(missing_tokens=options.missing_tokens)  # None: the pipeline's default tokens


def _unique(texts: Iterable[str]) -> list[str]:
    """In first-seen order: the all-rows and the train-rows pipelines drop the same columns."""
    return list(dict.fromkeys(texts))


def _leak_check(full: FeaturePipeline, X: pl.DataFrame, y: IntArray, options: TrainOptions,
                say: Progress) -> LeakReport:
    """max(AUC, 1 − AUC) of every feature alone, on ALL rows (`full` is fitted on all rows) before any
    split, so the answer depends neither on which value is 'bad' nor on the split drawn."""
    say("checking single-feature separation (leaks) on all rows")
    check = leak_report if options.allow_leaks else check_leaks  # check_leaks refuses, and warns in the band
    return check(full.transform(X), y, full.spec_.names, threshold=LEAK_THRESHOLD, warn_from=LEAK_WARN_FROM)


def _allowed_leak_note(name: str, leaks: LeakReport) -> str:
    return (f"{name}: kept by --allow-leaks although it separates the target with AUC {leaks.aucs[name]:.4f} on its "
            f"own (warning from {leaks.warn_from}, refused above {leaks.threshold}) / {name}：单独区分目标的 AUC 为 "
            f"{leaks.aucs[name]:.4f}，疑似泄露，按 --allow-leaks 保留")


def _check_monotone_features(options: TrainOptions, names: list[str], found: list[ProtectedColumn]) -> None:
    excluded = {item.column for item in found if not item.allowed}
    for column in options.monotone:
        if column in names:
            continue
        if column in excluded:
            why = "is excluded as a protected attribute"
        elif column == options.time_column:
            why = "is the out-of-time split's time column, never a feature"
        else:
            why = "is not a feature (not in the data, or dropped)"
        raise DataError("monotone", f"{column}: {why}; features are {', '.join(names[:20])}")


# --------------------------------------------------------------------------- the split


def _split(y: IntArray, dates: pl.Series | None, options: TrainOptions) -> tuple[Any, Any, dict[str, Any]]:
    if dates is None:
        train_idx, test_idx = train_test_split(
            np.arange(len(y)), test_size=options.test_fraction, stratify=y, random_state=options.seed)
        return train_idx, test_idx, {"kind": "random", "test_fraction": options.test_fraction,
                                     "seed": options.seed, "train_rows": len(train_idx), "test_rows": len(test_idx)}
    return _oot_split(y, dates, options)


def _oot_split(y: IntArray, dates: pl.Series, options: TrainOptions) -> tuple[Any, Any, dict[str, Any]]:
    """Train on rows dated before `oot_from`, hold out the rows on or after it."""
    start = _parse_date_option(options.oot_from)
    late = (dates >= start).to_numpy()
    train_idx = np.flatnonzero(~late)
    # Shuffled (seeded) like the random split's, so the kept explain sample is a random one.
    test_idx = np.random.default_rng(options.seed).permutation(np.flatnonzero(late))
    for side, idx in (("before", train_idx), ("on or after", test_idx)):
        bads = int(y[idx].sum())
        if min(bads, len(idx) - bads) < OOT_CLASS_ROWS_MIN:
            raise DataError("oot_from", f"the rows {side} {start.isoformat()} have {bads} bads and "
                            f"{len(idx) - bads} goods; each side needs at least {OOT_CLASS_ROWS_MIN} of each class")
    return train_idx, test_idx, {
        "kind": "out_of_time", "test_fraction": len(test_idx) / len(y), "seed": options.seed,
        "train_rows": len(train_idx), "test_rows": len(test_idx), "time_column": options.time_column,
        "oot_from": start.isoformat(), "train_period": _period(dates.gather(train_idx)),
        "test_period": _period(dates.gather(test_idx)),
    }


def _period(dates: pl.Series) -> list[str]:
    return [dates.min().isoformat(), dates.max().isoformat()]  # type: ignore[union-attr]


def _time_values(frame: pl.DataFrame, target: str, options: TrainOptions) -> pl.Series | None:
    """The out-of-time split's dates (never a feature), or None for a random split."""
    column = options.time_column
    if column is None:
        return None
    if column not in frame.columns or column == target:
        raise DataError(column, "--time-column names a column that is not in the data (or is the target)")
    dates = parse_date_column(frame.get_column(column))
    if dates.null_count():
        raise DataError(column, f"{dates.null_count()} rows have no date; the out-of-time split needs one on every row")
    return dates


def parse_date_column(series: pl.Series) -> pl.Series:
    """A column of dates in any one of the usual formats → polars Date; a DataError names it if none fits."""
    if series.dtype == pl.Date:
        return series
    if series.dtype.is_temporal():
        return series.cast(pl.Datetime).dt.date()
    text = series.cast(pl.Utf8).str.strip_chars()
    present = text.drop_nulls().len()
    for layout in DATE_FORMATS:
        parsed = text.str.strptime(pl.Datetime, layout, strict=False).dt.date()
        if parsed.drop_nulls().len() == present:
            return parsed
    example = text.drop_nulls()[0] if present else None
    raise DataError(series.name, f"not dates in a known format (e.g. {example!r}); use YYYY-MM-DD")


def _parse_date_option(value: str | date | None) -> date:
    assert value is not None, "checked by _check_options"
    if isinstance(value, date):
        return value
    try:
        parsed = parse_date_column(pl.Series("oot_from", [str(value)]))
    except DataError:
        raise DataError("oot_from", f"{value!r} is not a date; use YYYY-MM-DD") from None
    result: date = parsed[0]
    return result


# --------------------------------------------------------------------------- assembly and audit


def _keep_explain_sample(credit: CreditModel, X: pl.DataFrame, test_idx: Any) -> None:
    """A random held-out sample (`test_idx` is shuffled), capped, kept in file order."""
    rows = np.sort(np.asarray(test_idx)[:EXPLAIN_SAMPLE_ROWS])
    credit.explain_sample = X.select(credit.spec.names)[rows]
    credit.explain_sample_rows = [int(row) for row in rows]


def _assemble(frame: pl.DataFrame, target: str, bad_value: str, options: TrainOptions, pipeline: FeaturePipeline,
              model: CalibratedModel) -> CreditModel:
    params = {"kind": options.kind, "calibration": options.calibration, "seed": options.seed,
              "test_fraction": options.test_fraction, "monotone": options.monotone,
              "protected": list(options.protected), "allow_protected": list(options.allow_protected),
              "time_column": options.time_column,
              "oot_from": None if options.oot_from is None else str(options.oot_from),
              "estimator": {k: v for k, v in model.estimator_.get_params().items() if k != "feature_names"}}
    return CreditModel(options.kind, target, bad_value, pipeline, model, params=params,
                       data_fingerprint=data_fingerprint(frame))


def _audit(fingerprint: str, frame: pl.DataFrame, coding: TargetCoding, found: list[ProtectedColumn],
           leaks: LeakReport, split: dict[str, Any], dates: pl.Series | None, options: TrainOptions,
           pipeline: FeaturePipeline) -> dict[str, Any]:
    """The JSON-ready record of what the training saw and decided (the shared `audit` contract)."""
    excluded = [{"column": item.column, "category": "protected", "reason": item.reason}
                for item in found if not item.allowed]
    if options.time_column is not None:
        excluded.append({"column": options.time_column, "category": "date",
                         "reason": "the out-of-time split's time column is never a feature"})
    excluded += [dict(item) for item in pipeline.dropped_]
    return {
        "target": coding.to_dict(),
        "excluded": excluded,
        "protected": [item.to_dict() for item in found],
        "leak_check": {**leaks.to_dict(), "enforced": not options.allow_leaks, "rows": coding.rows},
        "split": split,
        "data": {"fingerprint": fingerprint, "rows": frame.height, "columns": frame.width,
                 "period": None if dates is None else _period(dates)},
        "monotone": {column: int(sign) for column, sign in options.monotone.items()},
    }


def _proxy_notes(proxies: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [f"{row['feature']}: possible proxy for {column} ({row['measure']} {row['value']:.3f} on the held-out "
            f"split) / {row['feature']}：可能是 {column} 的代理变量" for column, rows in proxies.items()
            for row in rows if row["flagged"]]


def _fairness_notes(fairness: dict[str, Any]) -> list[str]:
    """A warning per flagged group large enough to tell (small groups carry their own note)."""
    return [f"{column}: group {group!r} is approved at under four fifths of the most-approved group's rate "
            f"at the reference cut-off / {column}：{group} 组的批准率低于最高组的五分之四"
            for column, report in fairness.items() for group in report["flagged_groups"]
            if group not in report["small_groups"]]


def _held_out_metrics(credit: CreditModel, matrix: FloatArray, y: IntArray, train_idx: Any, test_idx: Any,
                      p_test: FloatArray) -> dict[str, Any]:
    p_dev = credit.model.predict_proba(matrix[train_idx])[:, 1]
    credit.dev_score_edges = evaluation.quantile_edges(evaluation.pd_to_score(p_dev))
    credit.dev_score_shares = evaluation.bin_shares(evaluation.pd_to_score(p_dev), credit.dev_score_edges)
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
