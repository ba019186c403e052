"""Fairness and proxy audit of a model on its held-out split, by protected attribute.

The protected columns are kept out of the model but kept beside it for this audit.

Fairness, per group of each protected column: rows, observed bad rate, mean PD and the calibration
gap (mean PD − bad rate), the AUC within the group (when it has at least AUC_CLASS_ROWS_MIN goods
and bads), and the approval rate at a reference cut-off with its Wilson 95 % interval: approve the
REFERENCE_APPROVAL_SHARE (70 %) lowest PDs of the whole held-out split. The adverse-impact ratio is
a group's approval rate over the most-approved group's (among groups of at least SMALL_GROUP_ROWS,
so a group of three does not set the bar), flagged under the four-fifths rule (ratio < 0.8).
Groups smaller than SMALL_GROUP_ROWS are reported with a note, never dropped.

Proxies, per model feature and protected column: how well the feature alone predicts the attribute.
- a two-level attribute: "auc" = max(AUC, 1 − AUC) of the feature's value (missing ranked both
  first and last, the better kept), flagged at PROXY_AUC_FLAG (0.70);
- more levels: "cramers_v" = Cramér's V of the feature cut into PROXY_BINS quantile bins (missing
  its own bin) against the attribute's levels, flagged at PROXY_CRAMERS_V_FLAG (0.30).

This is written for scoring on its own: scoring must not import monitoring (monitoring imports
scoring), whose decision-level audit (`lendstack.monitoring.fairness`) it mirrors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.stats import binomtest  # type: ignore[import-untyped]
from scipy.stats.contingency import association, crosstab  # type: ignore[import-untyped]

from lendstack.scoring.evaluation import auc as auc_of
from lendstack.scoring.features import single_feature_auc

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]

REFERENCE_APPROVAL_SHARE = 0.70
FOUR_FIFTHS = 0.8
SMALL_GROUP_ROWS = 30
AUC_CLASS_ROWS_MIN = 10
PROXY_AUC_FLAG = 0.70
PROXY_CRAMERS_V_FLAG = 0.30
PROXY_BINS = 10
GROUPS_MAX = 20  # a protected column with more levels keeps the largest GROUPS_MAX − 1, the rest pooled
MISSING = "<missing>"
OTHER = "<other>"
NUMERIC_BANDS = 5
# Age is audited in bands (a number per year would leave every group small).
AGE_BAND_EDGES_YEARS = (25, 35, 45, 55, 65)


def group_labels(series: pl.Series, attribute: str) -> list[str]:
    """One group label per row: the level as text, age in bands, missing as <missing>; at most
    GROUPS_MAX groups (the rarest levels pooled as <other>)."""
    if attribute == "age" and series.dtype.is_numeric():
        labels = [_age_band(value) for value in series.cast(pl.Float64).to_list()]
    elif series.dtype.is_numeric() and series.n_unique() > GROUPS_MAX:
        labels = _quantile_bands(series.cast(pl.Float64).to_numpy())
    else:
        text = series.cast(pl.Utf8).str.strip_chars()
        labels = [MISSING if value is None or value == "" else value for value in text.to_list()]
    return _pool_rare(labels)


def _age_band(value: float | None) -> str:
    if value is None or math.isnan(value):
        return MISSING
    lower = 0
    for edge in AGE_BAND_EDGES_YEARS:
        if value < edge:
            return f"<{edge}" if lower == 0 else f"{lower}-{edge - 1}"
        lower = edge
    return f"{lower}+"


def _quantile_bands(values: FloatArray) -> list[str]:
    """A continuous protected column (named with --protected): NUMERIC_BANDS quantile bands."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return [MISSING] * values.size
    edges = np.unique(np.quantile(present, np.linspace(0, 1, NUMERIC_BANDS + 1)))
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    names = [f"{edges[i]:.4g} to {edges[min(i + 1, len(edges) - 1)]:.4g}" for i in range(len(edges))]
    return [MISSING if np.isnan(value) else names[band] for value, band in zip(values, index, strict=True)]


def _pool_rare(labels: list[str]) -> list[str]:
    levels, counts = np.unique(np.array(labels, dtype=object), return_counts=True)
    if len(levels) <= GROUPS_MAX:
        return labels
    order = np.argsort(-counts, kind="stable")
    kept = {str(levels[index]) for index in order[: GROUPS_MAX - 1]}
    return [label if label in kept else OTHER for label in labels]


def wilson_interval(successes: int, rows: int) -> list[float]:
    """95 % Wilson score interval of a proportion (scipy's)."""
    assert 0 <= successes <= rows and rows > 0, (successes, rows)
    interval = binomtest(successes, rows).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


def fairness_by_group(labels: list[str], y: IntArray, pd: FloatArray) -> dict[str, Any]:
    """The held-out audit of one protected column (see the module docstring)."""
    assert len(labels) == len(y) == len(pd) and len(y) > 0, "one label, outcome and PD per held-out row"
    cutoff = float(np.quantile(pd, REFERENCE_APPROVAL_SHARE, method="lower"))
    approved = pd <= cutoff
    groups = np.array(labels, dtype=object)
    rows = [_group_row(str(level), y[groups == level], pd[groups == level], approved[groups == level])
            for level in sorted(set(labels))]
    reference = _most_approved(rows)
    for row in rows:
        ratio = row["approval_rate"] / reference["approval_rate"] if reference["approval_rate"] > 0 else None
        row["adverse_impact_ratio"] = ratio
        row["four_fifths_flag"] = ratio is not None and ratio < FOUR_FIFTHS
    return {
        "rows": len(labels),
        "reference_cutoff": {"rule": f"approve the {REFERENCE_APPROVAL_SHARE:.0%} lowest PDs of the held-out split",
                             "approval_share_target": REFERENCE_APPROVAL_SHARE, "pd_cutoff": cutoff,
                             "approval_share": float(approved.mean())},
        "reference_group": reference["group"],
        "four_fifths_threshold": FOUR_FIFTHS,
        "groups": rows,
        "flagged_groups": [row["group"] for row in rows if row["four_fifths_flag"]],
        "small_groups": [row["group"] for row in rows if row["rows"] < SMALL_GROUP_ROWS],
    }


def _group_row(group: str, y: IntArray, pd: FloatArray, approved: npt.NDArray[np.bool_]) -> dict[str, Any]:
    rows, bads, approvals = len(y), int(y.sum()), int(approved.sum())
    bad_rate, mean_pd = bads / rows, float(pd.mean())
    row: dict[str, Any] = {
        "group": group, "rows": rows, "bads": bads, "bad_rate": bad_rate, "mean_pd": mean_pd,
        "calibration_gap": mean_pd - bad_rate, "auc": None, "approved": approvals,
        "approval_rate": approvals / rows, "approval_rate_ci95": wilson_interval(approvals, rows), "notes": [],
    }
    if min(bads, rows - bads) >= AUC_CLASS_ROWS_MIN:
        row["auc"] = auc_of(y, pd)
    else:
        row["notes"].append(f"AUC not computed: {bads} bads, {rows - bads} goods (< {AUC_CLASS_ROWS_MIN} of a class)")
    if rows < SMALL_GROUP_ROWS:
        row["notes"].append(f"small group: {rows} rows (< {SMALL_GROUP_ROWS}); its rates are noisy")
    return row


def _most_approved(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The most-approved group among those large enough to be a fair yardstick (all, if none is)."""
    large = [row for row in rows if row["rows"] >= SMALL_GROUP_ROWS] or rows
    return max(large, key=lambda row: (row["approval_rate"], row["rows"]))


def proxy_associations(matrix: FloatArray, names: list[str], labels: list[str]) -> list[dict[str, Any]]:
    """Each feature's association with one protected column's groups, strongest first."""
    assert matrix.shape == (len(labels), len(names)), "one row per label, one column per name"
    groups = np.array(labels, dtype=object)
    known = groups != MISSING  # a missing attribute is no level to predict
    levels, counts = np.unique(groups[known].astype(str), return_counts=True)
    if len(levels) < 2:
        return []
    smallest = int(counts.min())
    note = (f"the smallest level has {smallest} held-out rows (< {SMALL_GROUP_ROWS}): the measure is noisy"
            if smallest < SMALL_GROUP_ROWS else None)
    rows = [{**_association(matrix[known, index], groups[known], [str(level) for level in levels], name),
             "note": note} for index, name in enumerate(names)]
    return sorted(rows, key=lambda row: -row["value"])


def _association(column: FloatArray, groups: npt.NDArray[np.object_], levels: list[str], name: str) -> dict[str, Any]:
    if len(levels) == 2:
        value = single_feature_auc(column, (groups == levels[1]).astype(np.int8))
        return {"feature": name, "measure": "auc", "value": value, "flagged": value >= PROXY_AUC_FLAG}
    value = cramers_v(column, groups)
    return {"feature": name, "measure": "cramers_v", "value": value, "flagged": value >= PROXY_CRAMERS_V_FLAG}


def cramers_v(column: FloatArray, groups: npt.NDArray[np.object_]) -> float:
    """Cramér's V of a numeric feature (quantile-binned, missing its own bin) against group labels."""
    table = crosstab(_bins(column), groups).count
    if min(table.shape) < 2:
        return 0.0  # a constant feature (or one group) carries no information about the attribute
    return float(association(table, method="cramer"))


def _bins(column: FloatArray) -> npt.NDArray[np.int64]:
    """Quantile bins 0..PROXY_BINS−1 (few distinct values: one bin each); missing → −1."""
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.full(column.shape, -1, dtype=np.int64)
    distinct = np.unique(present)
    if distinct.size <= PROXY_BINS:
        edges = distinct[1:]
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, PROXY_BINS + 1)[1:-1]))
    binned = np.searchsorted(edges, column, side="right").astype(np.int64)
    return np.where(np.isnan(column), -1, binned)


def audit_held_out(
    protected: Mapping[str, tuple[str, pl.Series]], matrix: FloatArray, names: list[str], y: IntArray, pd: FloatArray
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(fairness, proxies) for each protected column: column → (attribute, its held-out values)."""
    fairness: dict[str, Any] = {}
    proxies: dict[str, list[dict[str, Any]]] = {}
    for column, (attribute, values) in protected.items():
        labels = group_labels(values, attribute)
        pooled = [f"more than {GROUPS_MAX} levels: the rarest are pooled as {OTHER}"] if OTHER in labels else []
        fairness[column] = {"attribute": attribute, **fairness_by_group(labels, y, pd), "notes": pooled}
        proxies[column] = [row for row in proxy_associations(matrix, names, labels) if row["feature"] != column]
    return fairness, proxies
