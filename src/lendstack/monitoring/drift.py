"""Model monitoring: population and characteristic stability (PSI / CSI), realized
discrimination (AUC, KS) and calibration drift between a reference (development) frame and a
current frame.

PSI of the score and CSI of each feature use the same formula Σ (a − e) ln(a / e)
(`lendstack.scoring.evaluation.psi`): numeric columns on the reference's decile edges, string
and boolean columns on their categories (a category unseen in the reference gets its own bin).
Thresholds are the trade's usual ones: < 0.1 stable, 0.1-0.25 watch, > 0.25 alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from lendstack.scoring.evaluation import auc, bin_shares, calibration_table, ece, ks, psi, quantile_edges

PSI_WATCH = 0.1
PSI_ALERT = 0.25
BINS = 10


class DriftInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


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


def performance(outcome: Any, predicted: Any) -> dict[str, float]:
    """Realized discrimination and calibration of matured loans (outcome 1 = bad)."""
    y = np.asarray(outcome, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        raise DriftInputError("outcome", "needs both good and bad matured outcomes")
    return {"auc": auc(y, p), "ks": ks(y, p), "ece": ece(y, p), "observed_bad_rate": float(y.mean()),
            "predicted_bad_rate": float(p.mean())}


def performance_drift(
    reference: pl.DataFrame, current: pl.DataFrame, outcome: str, predicted: str, auc_drop_alert: float = 0.05,
) -> dict[str, Any]:
    """AUC / KS / calibration of the current matured sample vs the reference, and the current
    calibration table by decile of predicted PD. Alerts when AUC falls by more than
    `auc_drop_alert` or the calibration error doubles (and exceeds 0.02)."""
    for label, frame in (("reference", reference), ("current", current)):
        for name in (outcome, predicted):
            if name not in frame.columns:
                raise DriftInputError(f"{label}.{name}", "no such column")
    ref = performance(reference[outcome].to_numpy(), reference[predicted].to_numpy())
    cur = performance(current[outcome].to_numpy(), current[predicted].to_numpy())
    alerts = []
    if ref["auc"] - cur["auc"] > auc_drop_alert:
        alerts.append("auc_drop")
    if cur["ece"] > max(2 * ref["ece"], 0.02):
        alerts.append("calibration_drift")
    return {"reference": ref, "current": cur, "alerts": alerts,
            "calibration": calibration_table(current[outcome].to_numpy(), current[predicted].to_numpy())}
