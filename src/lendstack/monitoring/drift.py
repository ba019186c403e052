"""Model monitoring: population and characteristic stability (PSI / CSI), realized
discrimination (AUC, KS) and calibration drift between a reference (development) frame and a
current frame.

PSI of the score and CSI of each feature use the same formula Σ (a − e) ln(a / e)
(`lendstack.scoring.evaluation.psi`): numeric columns on the reference's decile edges, string
and boolean columns on their categories (a category unseen in the reference gets its own bin).
Thresholds are the trade's usual ones: < 0.1 stable, 0.1-0.25 watch, > 0.25 alert.

Realized performance is judged only when the sample can say something: with fewer than
BADS_MIN bads (or goods) the status is insufficient_data, and an AUC drop is an alert only when
it is both larger than the threshold and significant — the reference AUC lies above the upper
end of the current AUC's DeLong 95 % interval. A drop that is large but inside the interval is
a watch. Calibration drift likewise needs a band whose mean PD lies outside its Jeffreys 95 %
interval, besides the calibration error doubling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from lendstack.errors import LendstackError
from lendstack.scoring.evaluation import (
    auc_ci,
    bin_shares,
    calibration_bands,
    calibration_table,
    ece,
    ks,
    psi,
    quantile_edges,
)

PSI_WATCH = 0.1
PSI_ALERT = 0.25
BINS = 10
AUC_DROP_WATCH, AUC_DROP_ALERT = 0.02, 0.05
ECE_ALERT_MIN = 0.02
# Below this many bads (or goods) the realized AUC's interval is some ±0.1 wide: shown, not judged.
BADS_MIN = 30


class DriftInputError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


@dataclass(frozen=True, slots=True)
class Stability:
    column: str
    index: float  # PSI for the score, CSI for a feature
    status: str  # stable | watch | alert


def status_of(index: float, watch: float = PSI_WATCH, alert: float = PSI_ALERT) -> str:
    return "alert" if index > alert else "watch" if index >= watch else "stable"


def stability(reference: pl.Series, current: pl.Series, bins: int = BINS) -> float:
    """PSI/CSI of one column between two samples (nulls form their own bin)."""
    if reference.dtype.is_numeric():
        return _numeric_stability(reference, current, bins)
    return _categorical_stability(reference.cast(pl.String), current.cast(pl.String))


def _numeric_stability(reference: pl.Series, current: pl.Series, bins: int) -> float:
    ref = reference.cast(pl.Float64).to_numpy()
    cur = current.cast(pl.Float64).to_numpy()
    ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref_ok.size == 0:
        return 0.0
    edges = quantile_edges(ref_ok, bins)
    ref_shares = [*_scaled(bin_shares(ref_ok, edges), ref_ok.size / ref.size), 1 - ref_ok.size / ref.size]
    cur_shares = [*_scaled(bin_shares(cur_ok, edges), cur_ok.size / max(cur.size, 1)),
                  1 - cur_ok.size / max(cur.size, 1)]
    return psi(ref_shares, cur_shares)


def _scaled(shares: list[float], factor: float) -> list[float]:
    return [s * factor for s in shares]


def _categorical_stability(reference: pl.Series, current: pl.Series) -> float:
    ref_counts = reference.fill_null("<null>").value_counts()
    cur_counts = current.fill_null("<null>").value_counts()
    name = reference.name
    both = ref_counts.join(cur_counts, on=name, how="full", coalesce=True, suffix="_cur").fill_null(0)
    ref_n, cur_n = max(reference.len(), 1), max(current.len(), 1)
    return psi([c / ref_n for c in both["count"].to_list()], [c / cur_n for c in both["count_cur"].to_list()])


def stability_report(
    reference: pl.DataFrame, current: pl.DataFrame, columns: list[str] | None = None, bins: int = BINS,
) -> list[Stability]:
    """CSI of every shared column (or the given ones), worst first."""
    chosen = columns if columns is not None else [c for c in reference.columns if c in current.columns]
    for name in chosen:
        for label, frame in (("reference", reference), ("current", current)):
            if name not in frame.columns:
                raise DriftInputError(f"{label}.{name}", "no such column")
    rows = [Stability(n, (v := stability(reference[n], current[n], bins)), status_of(v)) for n in chosen]
    return sorted(rows, key=lambda s: -s.index)


def performance(outcome: Any, predicted: Any) -> dict[str, Any]:
    """Realized discrimination and calibration of matured loans (outcome 1 = bad), with the AUC's
    DeLong 95 % interval and how many PD deciles lie outside their Jeffreys 95 % interval."""
    y = np.asarray(outcome, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        raise DriftInputError("outcome", "needs both good and bad matured outcomes")
    value, lo, hi = auc_ci(y, p)
    bands = calibration_bands(y, p)
    outside = sum(1 for b in bands if not b["jeffreys_ci95"][0] <= b["predicted"] <= b["jeffreys_ci95"][1])
    bads = int(y.sum())
    return {"auc": value, "auc_ci95": [lo, hi], "ks": ks(y, p), "ece": ece(y, p),
            "observed_bad_rate": float(y.mean()), "predicted_bad_rate": float(p.mean()),
            "loans": int(y.size), "bads": bads, "goods": int(y.size) - bads, "bands_outside_jeffreys": outside}


def judge_performance(
    current: dict[str, Any], reference_auc: float | None, reference_ece: float | None,
    auc_drop_alert: float = AUC_DROP_ALERT, auc_drop_watch: float = AUC_DROP_WATCH, bads_min: int = BADS_MIN,
) -> tuple[list[str], str]:
    """(alerts, status) of a realized sample (from `performance`) against the reference.

    insufficient_data: fewer than `bads_min` bads or goods. alert auc_drop: the AUC fell by more
    than `auc_drop_alert` and the reference AUC lies above the current DeLong upper bound.
    alert calibration_drift: the ECE more than doubled (and exceeds ECE_ALERT_MIN) and at least
    one PD decile's mean PD lies outside its Jeffreys interval. watch: a drop beyond
    `auc_drop_watch`, or either condition without its significance."""
    assert 0 <= auc_drop_watch <= auc_drop_alert, (auc_drop_watch, auc_drop_alert)
    if min(int(current["bads"]), int(current["goods"])) < bads_min:
        return [], "insufficient_data"
    alerts: list[str] = []
    drop = 0.0 if reference_auc is None else reference_auc - float(current["auc"])
    significant = reference_auc is not None and reference_auc > float(current["auc_ci95"][1])
    if drop > auc_drop_alert and significant:
        alerts.append("auc_drop")
    ece_worse = float(current["ece"]) > max(2 * (reference_ece if reference_ece is not None else current["ece"]),
                                            ECE_ALERT_MIN)
    if ece_worse and int(current["bands_outside_jeffreys"]) > 0:
        alerts.append("calibration_drift")
    if alerts:
        return alerts, "alert"
    return [], "watch" if drop > auc_drop_watch or ece_worse else "stable"


def performance_drift(
    reference: pl.DataFrame, current: pl.DataFrame, outcome: str, predicted: str,
    auc_drop_alert: float = AUC_DROP_ALERT, bads_min: int = BADS_MIN,
) -> dict[str, Any]:
    """AUC / KS / calibration of the current matured sample vs the reference, the alerts and
    status of `judge_performance`, and the current calibration table by decile of predicted PD."""
    for label, frame in (("reference", reference), ("current", current)):
        for name in (outcome, predicted):
            if name not in frame.columns:
                raise DriftInputError(f"{label}.{name}", "no such column")
    ref = performance(reference[outcome].to_numpy(), reference[predicted].to_numpy())
    cur = performance(current[outcome].to_numpy(), current[predicted].to_numpy())
    alerts, status = judge_performance(cur, ref["auc"], ref["ece"], auc_drop_alert,
                                       min(AUC_DROP_WATCH, auc_drop_alert), bads_min)
    return {"reference": ref, "current": cur, "alerts": alerts, "status": status,
            "calibration": calibration_table(current[outcome].to_numpy(), current[predicted].to_numpy())}
