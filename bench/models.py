"""`lendstack bench models`: PD model quality on public data and the simulator, and inference speed.

Hyper-parameters are fixed a priori (the GBMModel / ScorecardModel defaults); the only data-driven
choice inside a fold is the GBM's number of rounds, by early stopping on a validation split of that
fold's training part. Test folds are never used for fitting or selection.

Protected attributes are excluded from the headline AUCs by the same detection as `model train`
(German: personal_status_and_sex, foreign_worker; Taiwan: SEX, MARRIAGE; age is kept, as in
training), and IDs are not features (Taiwan's ID is dropped); the `_with_protected` keys are the same
CV on the same folds with the protected columns kept, for comparison.

- German Credit (tests/data/german_credit.csv): 5-fold stratified CV repeated 5 times.
- Taiwan credit-card default (../shared/data beside the repo): stratified 5-fold CV, with
  engineered features (utilisation = bill / limit, payment ratios, max delay, number of delays).
- Simulator: held-out AUC, KS and calibration error (ECE) of both models, if lendstack.sim has
  `generate_applications`.
- Inference: p99 latency of one application (feature row + compiled forest + calibration) and
  batch throughput of the whole path on 120,000 raw rows (polars feature transform + the compiled
  forest walked by numba, rows in parallel + calibration), median of 3 runs, with the parts and
  LightGBM's own predict for comparison.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold  # type: ignore[import-untyped]

from lendstack.scoring import FeaturePipeline, GBMModel, ScorecardModel, TrainOptions, encode_target, read_table
from lendstack.scoring.credit_model import CreditModel, train_credit_model
from lendstack.scoring.evaluation import auc
from lendstack.scoring.protected import detect_protected, excluded_columns

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "tests" / "data" / "german_credit.csv"
TAIWAN = ROOT.parent / "shared" / "data" / "taiwan_credit_default.csv"
TAIWAN_TARGET = "default.payment.next.month"
_LATENCY_ROWS = 3000
_BATCH_ROWS = 120_000


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"… {message}", flush=True)


def cv_auc(X: pl.DataFrame, y: np.ndarray, splitter: Any) -> dict[str, float]:
    """Mean out-of-fold AUC of both models; the feature pipeline is fitted inside each fold."""
    scores: dict[str, list[float]] = {"gbm": [], "scorecard": []}
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        pipe = FeaturePipeline().fit(X[train_idx], y[train_idx])
        train, test = pipe.transform(X[train_idx]), pipe.transform(X[test_idx])
        names = pipe.spec_.names
        for kind, model in (("gbm", GBMModel(feature_names=names)), ("scorecard", ScorecardModel(feature_names=names))):
            scores[kind].append(auc(y[test_idx], model.fit(train, y[train_idx]).predict_proba(test)[:, 1]))
    return {kind: float(np.mean(values)) for kind, values in scores.items()}


def taiwan_features(frame: pl.DataFrame) -> pl.DataFrame:
    """Domain features for the Taiwan card data (the raw columns stay)."""
    pays = ["PAY_0", *[f"PAY_{i}" for i in range(2, 7)]]
    bills = [pl.col(f"BILL_AMT{i}") for i in range(1, 7)]
    paid = [pl.col(f"PAY_AMT{i}") for i in range(1, 7)]
    return frame.drop("ID", strict=False).with_columns(
        *[(pl.col(f"BILL_AMT{i}") / pl.col("LIMIT_BAL")).alias(f"util_{i}") for i in range(1, 7)],
        *[(pl.col(f"PAY_AMT{i}") / pl.col(f"BILL_AMT{i + 1}").clip(lower_bound=1)).alias(f"pay_ratio_{i}")
          for i in range(1, 6)],
        pl.max_horizontal(pays).alias("max_delay"),
        pl.sum_horizontal([(pl.col(p) > 0).cast(pl.Int32) for p in pays]).alias("n_delays"),
        (pl.sum_horizontal(paid) / pl.sum_horizontal(bills).clip(lower_bound=1)).alias("pay_bill_ratio"),
        (pl.col("LIMIT_BAL") - pl.col("BILL_AMT1")).alias("headroom"),
    )


def with_and_without_protected(name: str, X: pl.DataFrame, y: np.ndarray, splitter: Any) -> dict[str, Any]:
    """`{name}_auc_{kind}` with the protected columns excluded (the headline), and
    `{name}_auc_{kind}_with_protected` with them kept; the same folds for both."""
    excluded = excluded_columns(detect_protected(X))
    clean = cv_auc(X.drop(excluded), y, splitter)
    kept = cv_auc(X, y, splitter)
    out: dict[str, Any] = {f"{name}_excluded_protected": ", ".join(excluded)}
    for kind in ("gbm", "scorecard"):
        out[f"{name}_auc_{kind}"] = clean[kind]
        out[f"{name}_auc_{kind}_with_protected"] = kept[kind]
    return out


def german(progress: bool) -> dict[str, Any]:
    _say(progress, "German Credit: 5-fold CV x 5 repeats, without and with protected attributes")
    frame = read_table(GERMAN)
    y = encode_target(frame["creditability"], "bad")
    splitter = RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=0)
    return with_and_without_protected("german", frame.drop("creditability"), y, splitter)


def taiwan(progress: bool) -> dict[str, Any]:
    if not TAIWAN.is_file():
        return {"taiwan_status": f"missing {TAIWAN}"}
    _say(progress, "Taiwan credit-card default: stratified 5-fold CV, without and with protected attributes")
    frame = taiwan_features(read_table(TAIWAN))
    y = encode_target(frame[TAIWAN_TARGET])
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return with_and_without_protected("taiwan", frame.drop(TAIWAN_TARGET), y, splitter)


def simulator(progress: bool, rows: int = 20_000) -> dict[str, Any]:
    try:
        from lendstack.cli.model import _sim_frame
    except ImportError:
        return {"sim_status": "lendstack.sim.generate_applications not available"}
    _say(progress, f"simulator: {rows} applications, both models")
    frame = _sim_frame(rows, 0)
    out: dict[str, Any] = {}
    for kind in ("gbm", "scorecard"):
        credit, _ = train_credit_model(frame, "default_12m", TrainOptions(kind=kind))  # type: ignore[arg-type]
        out[f"sim_auc_{kind}"] = credit.metrics["auc"]
        out[f"sim_ks_{kind}"] = credit.metrics["ks"]
        out[f"sim_calibration_error_{kind}"] = credit.metrics["ece"]
    return out


def inference(progress: bool) -> dict[str, Any]:
    _say(progress, "inference: online p99 and batch throughput (Taiwan GBM)")
    frame = taiwan_features(read_table(TAIWAN)) if TAIWAN.is_file() else read_table(GERMAN)
    target = TAIWAN_TARGET if TAIWAN.is_file() else "creditability"
    options = TrainOptions(kind="gbm", bad_value=None if TAIWAN.is_file() else "bad")
    credit, _ = train_credit_model(frame, target, options)
    X = frame.drop(target)
    out = _latency(credit, X.head(_LATENCY_ROWS).to_dicts())
    big = pl.concat([X] * (_BATCH_ROWS // X.height + 1)).head(_BATCH_ROWS)
    out.update(_batch(credit, big))
    matrix = credit.features(X.head(2000))
    out["compiled_max_abs_diff_raw"] = float(np.max(np.abs(
        credit.compiled().raw_batch(matrix) - credit.base.decision_function(matrix))))
    online = np.array([credit.predict_pd_one(row) for row in X.head(2000).to_dicts()])
    out["online_batch_max_abs_diff_pd"] = float(np.max(np.abs(online - credit.predict_pd(X.head(2000)))))
    out["gbm_trees"] = int(credit.base.best_iteration_)
    return out


def _median_seconds(action: Any, runs: int = 3) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return float(np.median(timings))


def _batch(credit: CreditModel, big: pl.DataFrame) -> dict[str, Any]:
    """Rows/s of the whole batch path from raw rows to calibrated PDs, and of its parts."""
    credit.predict_pd(big.head(1000))  # warm-up: compile (or load) the kernels
    rows = big.height
    matrix = credit.features(big)
    raw = credit.compiled().raw_batch(matrix)
    return {
        "batch_rows": rows,
        "batch_rows_per_s": rows / _median_seconds(lambda: credit.predict_pd(big)),
        "batch_features_rows_per_s": rows / _median_seconds(lambda: credit.features(big)),
        "batch_forest_rows_per_s": rows / _median_seconds(lambda: credit.compiled().raw_batch(matrix)),
        "batch_calibration_rows_per_s": rows / _median_seconds(lambda: credit.pd_from_raw(raw)),
        "batch_lightgbm_predict_rows_per_s": rows / _median_seconds(lambda: credit.base.decision_function(matrix)),
    }


def _latency(credit: CreditModel, rows: list[dict[str, Any]]) -> dict[str, float]:
    for row in rows[:200]:
        credit.predict_pd_one(row)
    timings_ms = []
    for row in rows:
        start = time.perf_counter()
        credit.predict_pd_one(row)
        timings_ms.append((time.perf_counter() - start) * 1000)
    return {"inference_ms_p50": float(np.percentile(timings_ms, 50)),
            "inference_ms_p99": float(np.percentile(timings_ms, 99))}


def run(progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for part in (german, taiwan, simulator, inference):
            result.update(part(progress))
    result["bench_seconds"] = time.perf_counter() - started
    return result
