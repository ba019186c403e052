"""Model evaluation: discrimination (AUC with its DeLong interval, Gini, KS and the gains table),
calibration (Brier, decile table, ECE, the Jeffreys test by band), score distribution, bad rate
by score band, information value (IV) per feature and the population stability index (PSI)
between development and test samples; the paired DeLong test of two models on the same rows.

All functions take y (1 = bad) and p (predicted probability of bad) as NumPy arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import beta, binomtest, norm, rankdata  # type: ignore[import-untyped]
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


# --------------------------------------------------------------------------- uncertainty

Z_95 = 1.959963984540054  # the two-sided 95 % normal quantile, scipy.stats.norm.ppf(0.975)
JEFFREYS_ALPHA = 0.05  # a band is flagged when the one-sided Jeffreys p-value is below this


def _two_classes(y: Any, p: Any) -> tuple[FloatArray, FloatArray]:
    """The scores of the bads and of the goods (2-D: one row per model)."""
    y_arr = np.asarray(y).astype(bool)
    p_arr = np.atleast_2d(np.asarray(p, dtype=np.float64))
    assert p_arr.shape[1] == y_arr.size, (p_arr.shape, y_arr.size)
    assert np.isfinite(p_arr).all(), "scores must be finite"
    return p_arr[:, y_arr], p_arr[:, ~y_arr]


def delong(y: Any, p: Any) -> tuple[FloatArray, FloatArray]:
    """AUCs of one or more score vectors on the same rows and their DeLong covariance matrix.

    The fast midrank algorithm of Sun & Xu (2014), O(k · n log n) for k models: the structural
    components come from the midranks of each class alone and of both together. `p` is (n,) or
    (k, n); higher means riskier; y is 1 for bad. With fewer than two bads or two goods the
    variance is not defined and is returned as +inf (the interval is then [0, 1]).
    """
    bads, goods = _two_classes(y, p)
    m, n = bads.shape[1], goods.shape[1]
    assert m > 0 and n > 0, "AUC needs both bads and goods"
    ranks_bad = rankdata(bads, axis=1)
    ranks_good = rankdata(goods, axis=1)
    ranks_all = rankdata(np.hstack([bads, goods]), axis=1)
    aucs = (ranks_all[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    k = bads.shape[0]
    if m < 2 or n < 2:
        return aucs, np.full((k, k), np.inf)
    v_bad = (ranks_all[:, :m] - ranks_bad) / n  # share of goods below each bad
    v_good = 1.0 - (ranks_all[:, m:] - ranks_good) / m  # share of bads above each good
    cov = np.atleast_2d(np.cov(v_bad)) / m + np.atleast_2d(np.cov(v_good)) / n
    return aucs, cov


def auc_ci(y: Any, p: Any, z: float = Z_95) -> tuple[float, float, float]:
    """AUC with its DeLong 95 % interval (normal on the AUC scale, clipped to [0, 1])."""
    aucs, cov = delong(y, p)
    value, variance = float(aucs[0]), float(cov[0, 0])
    if not math.isfinite(variance):
        return value, 0.0, 1.0
    half = z * math.sqrt(max(variance, 0.0))
    return value, max(0.0, value - half), min(1.0, value + half)


def paired_auc_difference(y: Any, p_a: Any, p_b: Any, z: float = Z_95) -> dict[str, Any]:
    """AUC(a) − AUC(b) on the same rows, its paired DeLong 95 % interval and two-sided p-value.

    Identical scores give a zero difference with zero variance: the interval is [0, 0] and the
    p-value 1 (no evidence of a difference), never NaN."""
    aucs, cov = delong(y, np.vstack([np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)]))
    difference = float(aucs[0] - aucs[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]) if np.isfinite(cov).all() else math.inf
    if not math.isfinite(variance):
        return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference,
                "ci95": [-1.0, 1.0], "se": None, "p_value": 1.0}
    se = math.sqrt(max(variance, 0.0))
    if se <= 1e-12:  # the same ranking (up to ties) on every row: no sampling variation at all
        p_value = 1.0 if abs(difference) <= 1e-12 else 0.0
        return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference,
                "ci95": [difference, difference], "se": 0.0, "p_value": p_value}
    p_value = float(2.0 * norm.sf(abs(difference) / se))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference,
            "ci95": [difference - z * se, difference + z * se], "se": se, "p_value": p_value}


def jeffreys(bads: int, count: int, predicted: float, alpha: float = JEFFREYS_ALPHA) -> dict[str, Any]:
    """The Jeffreys test of one grade or band (ECB/EBA PD back-testing): the posterior of the
    default rate is Beta(bads + ½, goods + ½); its equal-tailed 95 % interval, and the one-sided
    p-value of "the predicted PD is not too low" (the posterior's CDF at the predicted PD).
    Flagged when that p-value is below `alpha`: more bads than the PD explains."""
    assert 0 <= bads <= count, (bads, count)
    assert 0.0 <= predicted <= 1.0, predicted
    if count == 0:
        return {"jeffreys_ci95": [0.0, 1.0], "p_value": 1.0, "flagged": False}
    a, b = bads + 0.5, count - bads + 0.5
    p_value = float(beta.cdf(predicted, a, b))
    return {"jeffreys_ci95": [float(beta.ppf(0.025, a, b)), float(beta.ppf(0.975, a, b))],
            "p_value": p_value, "flagged": p_value < alpha}


def wilson(successes: int, count: int) -> list[float]:
    """Wilson score 95 % interval of a proportion (scipy); [0, 1] when there is no data."""
    assert 0 <= successes <= count, (successes, count)
    if count == 0:
        return [0.0, 1.0]
    interval = binomtest(successes, count).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


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


def calibration_bands(y: Any, p: Any, grades: Any = None, bins: int = 10,
                      alpha: float = JEFFREYS_ALPHA) -> list[dict[str, Any]]:
    """Calibration by band with the Jeffreys test per band: the model's grades when given (one
    label per row, bands in order of mean PD), else equal-count deciles of the predicted PD.
    Each band is tested on its own, as the ECB/EBA back-test does per grade (no correction for
    testing ten bands: a well-calibrated model shows a flag in some band now and then)."""
    p_arr = np.asarray(p, dtype=np.float64)
    y_arr = np.asarray(y).astype(bool)
    assert p_arr.shape == y_arr.shape, (p_arr.shape, y_arr.shape)
    assert 1 <= bins <= 1000, bins
    rows = []
    for label, chunk in _bands(p_arr, grades, bins):
        count, bads = len(chunk), int(y_arr[chunk].sum())
        predicted = float(p_arr[chunk].mean())
        rows.append({"band": label, "count": count, "bads": bads, "predicted": predicted,
                     "observed": bads / count, **jeffreys(bads, count, min(max(predicted, 0.0), 1.0), alpha)})
    return rows


def _bands(p: FloatArray, grades: Any, bins: int) -> list[tuple[str, npt.NDArray[np.intp]]]:
    if grades is None:
        order = np.argsort(p, kind="stable")
        return [(str(i + 1), chunk) for i, chunk in enumerate(np.array_split(order, bins)) if len(chunk)]
    labels = np.asarray(grades).astype(str)
    assert labels.shape == p.shape, (labels.shape, p.shape)
    chunks = [(str(g), np.flatnonzero(labels == g)) for g in np.unique(labels)]
    return sorted(chunks, key=lambda item: float(p[item[1]].mean()))


def gains_table(y: Any, p: Any, scores: Any = None, bins: int = 10) -> list[dict[str, Any]]:
    """The gains / KS table in numbers: equal-count deciles, riskiest (highest PD) first, with
    count, bads, goods, bad rate, the score range, the cumulative shares of bads and goods
    captured so far, the KS gap at each row and the lift (decile and cumulative bad rate over the
    overall bad rate). Ties in PD may straddle a decile edge, so the table's largest KS can be a
    little below `ks`."""
    y_arr = np.asarray(y).astype(bool)
    p_arr = np.asarray(p, dtype=np.float64)
    s_arr = pd_to_score(p_arr) if scores is None else np.asarray(scores, dtype=np.float64)
    total_bads, total_goods = int(y_arr.sum()), int((~y_arr).sum())
    assert total_bads > 0 and total_goods > 0, "a gains table needs both bads and goods"
    overall = total_bads / y_arr.size
    order = np.argsort(-p_arr, kind="stable")
    rows, cum_bads, cum_goods, cum_count = [], 0, 0, 0
    for index, chunk in enumerate(np.array_split(order, bins)):
        if len(chunk) == 0:
            continue
        bads = int(y_arr[chunk].sum())
        cum_bads, cum_goods, cum_count = cum_bads + bads, cum_goods + len(chunk) - bads, cum_count + len(chunk)
        rows.append({
            "decile": index + 1, "count": len(chunk), "bads": bads, "goods": len(chunk) - bads,
            "bad_rate": bads / len(chunk), "pd_min": float(p_arr[chunk].min()), "pd_max": float(p_arr[chunk].max()),
            "score_min": float(s_arr[chunk].min()), "score_max": float(s_arr[chunk].max()),
            "cum_bads_share": cum_bads / total_bads, "cum_goods_share": cum_goods / total_goods,
            "ks": cum_bads / total_bads - cum_goods / total_goods,
            "lift": bads / len(chunk) / overall, "cum_lift": cum_bads / cum_count / overall,
        })
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


IV_VALUE_BINS_MAX = 20  # a column with at most this many distinct values is binned by value
IV_CELL_SMOOTHING = 0.5  # added to the goods and to the bads of every bin (Haldane–Anscombe)


def information_value(column: Any, y: Any, bins: int = 10) -> float:
    """IV = Σ (good share − bad share)·ln(good share / bad share) over the column's bins.

    Bins: a column with at most IV_VALUE_BINS_MAX distinct values (binary, codes, small counts)
    gets one bin per value; otherwise `bins` quantile bins (tied values stay together); missing
    values are a bin of their own. Every cell gets +0.5 (the Haldane–Anscombe correction), so a
    bin with no goods or no bads, such as a rare value that separates the target perfectly, gives
    a large finite IV instead of infinity (or 0 from clipping). Without both classes it is 0.
    """
    assert bins >= 1, "information_value needs at least one bin"
    x = np.asarray(column, dtype=np.float64)
    y_arr = np.asarray(y).astype(bool)
    assert x.shape == y_arr.shape, "one target value per feature value"
    if y_arr.all() or not y_arr.any():
        return 0.0
    codes = _iv_bin_codes(x, bins)
    width = int(codes.max()) + 1
    bads = np.bincount(codes[y_arr], minlength=width) + IV_CELL_SMOOTHING
    goods = np.bincount(codes[~y_arr], minlength=width) + IV_CELL_SMOOTHING
    occupied = (bads + goods) > 2 * IV_CELL_SMOOTHING  # an empty bin carries no information
    bad_share, good_share = bads[occupied] / bads[occupied].sum(), goods[occupied] / goods[occupied].sum()
    return float(np.sum((good_share - bad_share) * np.log(good_share / bad_share)))


def _iv_bin_codes(x: FloatArray, bins: int) -> npt.NDArray[np.intp]:
    """Bin index per value: by value (few distinct) or by quantile; missing is the last bin."""
    missing = np.isnan(x)
    present = x[~missing]
    distinct = np.unique(present)
    if distinct.size <= IV_VALUE_BINS_MAX:
        edges = distinct[1:]  # value v lands in bin searchsorted(edges, v, "right") = its rank
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    codes = np.searchsorted(edges, np.where(missing, 0.0, x), side="right")
    return np.asarray(np.where(missing, edges.size + 1, codes), dtype=np.intp)


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
    grades: Any = None,
) -> dict[str, Any]:
    """All the metrics as one flat-ish JSON-ready dict (top-level `auc`), with the AUC's DeLong
    95 % interval (`auc_ci95`), the gains/KS table (`gains`) and calibration by band with the
    Jeffreys test (`calibration_bands`, by the model's `grades` when given, else PD deciles)."""
    y_arr = np.asarray(y).astype(np.int8)
    p_arr = np.asarray(p, dtype=np.float64)
    s_arr = pd_to_score(p_arr) if scores is None else np.asarray(scores, dtype=np.float64)
    auc_value, auc_lo, auc_hi = auc_ci(y_arr, p_arr)
    bands = calibration_bands(y_arr, p_arr, grades)
    result: dict[str, Any] = {
        "auc": auc_value,
        "auc_ci95": [auc_lo, auc_hi],
        "gini": gini(y_arr, p_arr),
        "ks": ks(y_arr, p_arr),
        "brier": brier(y_arr, p_arr),
        "ece": ece(y_arr, p_arr),
        "rows": len(y_arr),
        "bad_rate": float(y_arr.mean()),
        "mean_pd": float(p_arr.mean()),
        "calibration": calibration_table(y_arr, p_arr),
        "calibration_bands": bands,
        "calibration_flagged": [row["band"] for row in bands if row["flagged"]],
        "gains": gains_table(y_arr, p_arr, s_arr),
        "score_bands": score_bands(y_arr, s_arr),
        "score_histogram": score_histogram(y_arr, s_arr),
        "roc": roc_points(y_arr, p_arr),
    }
    if features is not None and feature_names is not None:
        result["iv"] = {name: information_value(features[:, i], y_arr) for i, name in enumerate(feature_names)}
    if dev_score_edges is not None and dev_score_shares is not None:
        result["psi"] = psi(dev_score_shares, bin_shares(s_arr, dev_score_edges))
    return result
