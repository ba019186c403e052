"""Model evaluation: discrimination (AUC, Gini, KS), calibration (Brier, decile table, ECE),
score distribution, bad rate by score band, information value (IV) per feature and the
population stability index (PSI) between development and test samples.

All functions take y (1 = bad) and p (predicted probability of bad) as NumPy arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score, roc_curve  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
_EPS = 1e-6  # keeps logs finite for empty bins in IV and PSI


def auc(y: Any, p: Any) -> float:
    return float(roc_auc_score(np.asarray(y), np.asarray(p)))


def gini(y: Any, p: Any) -> float:
    return 2.0 * auc(y, p) - 1.0


def ks(y: Any, p: Any) -> float:
    """Kolmogorov–Smirnov: the largest gap between the bads' and the goods' score CDFs."""
    y_arr = np.asarray(y).astype(bool)
    p_arr = np.asarray(p, dtype=np.float64)
    assert y_arr.any() and (~y_arr).any(), "KS needs both classes"
    thresholds = np.unique(p_arr)
    cdf_bad = np.searchsorted(np.sort(p_arr[y_arr]), thresholds, side="right") / y_arr.sum()
    cdf_good = np.searchsorted(np.sort(p_arr[~y_arr]), thresholds, side="right") / (~y_arr).sum()
    return float(np.max(np.abs(cdf_good - cdf_bad)))


def brier(y: Any, p: Any) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def calibration_table(y: Any, p: Any, bins: int = 10) -> list[dict[str, float]]:
    """Deciles of predicted PD: count, mean predicted, observed bad rate."""
    p_arr = np.asarray(p, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    order = np.argsort(p_arr, kind="stable")
    rows = []
    for index, chunk in enumerate(np.array_split(order, bins)):
        if len(chunk) == 0:
            continue
        rows.append(
            {
                "bin": float(index + 1),
                "count": float(len(chunk)),
                "predicted": float(p_arr[chunk].mean()),
                "observed": float(y_arr[chunk].mean()),
            }
        )
    return rows


def ece(y: Any, p: Any, bins: int = 10) -> float:
    """Expected calibration error over PD deciles: the count-weighted |predicted − observed|."""
    table = calibration_table(y, p, bins)
    total = sum(row["count"] for row in table)
    return float(sum(row["count"] * abs(row["predicted"] - row["observed"]) for row in table) / total)


def score_bands(y: Any, scores: Any, bands: int = 10) -> list[dict[str, float]]:
    """Bad rate by score band (equal-count bands of the score, low score = high risk first)."""
    s_arr = np.asarray(scores, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    order = np.argsort(s_arr, kind="stable")
    out = []
    for chunk in np.array_split(order, bands):
        if len(chunk) == 0:
            continue
        out.append(
            {
                "score_min": float(s_arr[chunk].min()),
                "score_max": float(s_arr[chunk].max()),
                "count": float(len(chunk)),
                "bad_rate": float(y_arr[chunk].mean()),
            }
        )
    return out


def score_histogram(y: Any, scores: Any, bins: int = 20) -> dict[str, list[float]]:
    """Score distribution of goods and bads on shared bin edges."""
    s_arr = np.asarray(scores, dtype=np.float64)
    y_arr = np.asarray(y).astype(bool)
    edges = np.histogram_bin_edges(s_arr, bins=bins)
    goods, _ = np.histogram(s_arr[~y_arr], bins=edges)
    bads, _ = np.histogram(s_arr[y_arr], bins=edges)
    return {"edges": edges.tolist(), "goods": goods.astype(float).tolist(), "bads": bads.astype(float).tolist()}


def quantile_edges(values: Any, bins: int = 10) -> list[float]:
    """Inner decile edges of a development sample, for PSI later."""
    edges = np.quantile(np.asarray(values, dtype=np.float64), np.linspace(0, 1, bins + 1)[1:-1])
    return [float(edge) for edge in np.unique(edges)]


def bin_shares(values: Any, edges: list[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(np.asarray(edges), np.asarray(values, dtype=np.float64), side="right"),
                         minlength=len(edges) + 1)
    return [float(c) for c in counts / max(counts.sum(), 1)]


def psi(expected_shares: list[float], actual_shares: list[float]) -> float:
    """Population stability index Σ (a − e) ln(a / e); < 0.1 stable, > 0.25 a real shift."""
    e = np.clip(np.asarray(expected_shares), _EPS, None)
    a = np.clip(np.asarray(actual_shares), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_between(dev: Any, test: Any, bins: int = 10) -> float:
    edges = quantile_edges(dev, bins)
    return psi(bin_shares(dev, edges), bin_shares(test, edges))


def information_value(column: Any, y: Any, bins: int = 10) -> float:
    """IV of one feature on quantile bins (missing values form their own bin)."""
    x = np.asarray(column, dtype=np.float64)
    y_arr = np.asarray(y).astype(bool)
    missing = np.isnan(x)
    present = x[~missing]
    if present.size == 0:
        return 0.0
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    codes = np.where(missing, len(edges) + 1, np.searchsorted(edges, np.nan_to_num(x), side="right"))
    bad = np.bincount(codes[y_arr], minlength=len(edges) + 2) / max(y_arr.sum(), 1)
    good = np.bincount(codes[~y_arr], minlength=len(edges) + 2) / max((~y_arr).sum(), 1)
    bad, good = np.clip(bad, _EPS, None), np.clip(good, _EPS, None)
    return float(np.sum((good - bad) * np.log(good / bad)))


def roc_points(y: Any, p: Any, max_points: int = 200) -> dict[str, list[float]]:
    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(p))
    step = max(1, len(fpr) // max_points)
    return {"fpr": [*fpr[::step].tolist(), 1.0], "tpr": [*tpr[::step].tolist(), 1.0]}


def pd_to_score(p: Any, base_points: float = 600.0, base_odds: float = 50.0, pdo: float = 20.0) -> FloatArray:
    """Points: base_points at good:bad odds base_odds, +pdo points per doubling of the odds."""
    p_arr = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    factor = pdo / math.log(2.0)
    offset = base_points - factor * math.log(base_odds)
    return np.asarray(offset + factor * np.log((1 - p_arr) / p_arr), dtype=np.float64)


def evaluate(
    y: Any,
    p: Any,
    *,
    scores: Any = None,
    features: FloatArray | None = None,
    feature_names: list[str] | None = None,
    dev_score_edges: list[float] | None = None,
    dev_score_shares: list[float] | None = None,
) -> dict[str, Any]:
    """All the metrics as one flat-ish JSON-ready dict (top-level `auc`)."""
    y_arr = np.asarray(y).astype(np.int8)
    p_arr = np.asarray(p, dtype=np.float64)
    s_arr = pd_to_score(p_arr) if scores is None else np.asarray(scores, dtype=np.float64)
    result: dict[str, Any] = {
        "auc": auc(y_arr, p_arr),
        "gini": gini(y_arr, p_arr),
        "ks": ks(y_arr, p_arr),
        "brier": brier(y_arr, p_arr),
        "ece": ece(y_arr, p_arr),
        "rows": len(y_arr),
        "bad_rate": float(y_arr.mean()),
        "mean_pd": float(p_arr.mean()),
        "calibration": calibration_table(y_arr, p_arr),
        "score_bands": score_bands(y_arr, s_arr),
        "score_histogram": score_histogram(y_arr, s_arr),
        "roc": roc_points(y_arr, p_arr),
    }
    if features is not None and feature_names is not None:
        result["iv"] = {name: information_value(features[:, i], y_arr) for i, name in enumerate(feature_names)}
    if dev_score_edges is not None and dev_score_shares is not None:
        result["psi"] = psi(dev_score_shares, bin_shares(s_arr, dev_score_edges))
    return result
