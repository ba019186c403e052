"""Fairness audit of decisions in any table: approval rate, bad rate and price by group, the
disparate-impact ratio (four-fifths rule) and the equal-opportunity difference, with 95%
confidence intervals.

- Rates get Wilson score intervals (good coverage for small groups and rates near 0 or 1).
- The disparate-impact ratio and the equal-opportunity difference get seeded bootstrap
  percentile intervals, resampling each group independently. Resampling n rows of a 0/1 column
  with replacement draws Binomial(n, p̂) successes, so the bootstrap is drawn that way directly:
  the same distribution as row resampling, at no cost per row.
- Equal opportunity: the approval rate among applicants with a good outcome (the true-positive
  rate of "approve" for "would repay"), compared with the reference group's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from lendstack.errors import LendstackError

Z_95 = 1.959963984540054
FOUR_FIFTHS = 0.8
GROUP_ROWS_MIN = 30  # fewer rows in a group than this: the audit warns that its numbers are noisy
BOOTSTRAPS = 2000
_POSITIVE_WORDS = ("approve", "approved", "accept", "accepted", "yes", "y", "true", "1", "grant", "granted")


class FairnessInputError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


@dataclass(frozen=True, slots=True)
class AuditColumns:
    decision: str
    group: str
    outcome: str | None = None  # 1 / true = bad
    price: str | None = None
    positive_decision: str | None = None
    reference_group: str | None = None


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no data."""
    assert 0 <= successes <= n, (successes, n)
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def approved_flags(frame: pl.DataFrame, column: str, positive: str | None) -> pl.Series:
    """The decision column as booleans (approved = True); raises naming the column unless it is
    binary or `positive` says which value approves."""
    _require(frame, column)
    values = frame[column]
    if values.null_count():
        raise FairnessInputError(column, f"{values.null_count()} empty decision(s)")
    as_text = values.cast(pl.String).str.to_lowercase()
    if positive is not None:
        return as_text.eq(positive.lower())
    distinct = sorted(set(as_text.unique().to_list()))
    if len(distinct) > 2:
        raise FairnessInputError(column, f"decision is not binary: {len(distinct)} values {distinct[:5]}; "
                                 "give --positive-decision")
    hits = [v for v in distinct if v in _POSITIVE_WORDS]
    if len(hits) != 1:
        raise FairnessInputError(column, f"cannot tell which of {distinct} approves; give --positive-decision")
    flags: pl.Series = as_text.eq(str(hits[0]))
    return flags


def bad_flags(frame: pl.DataFrame, column: str) -> pl.Series:
    """The outcome column as booleans (bad = True), null where unknown (e.g. not yet matured)."""
    _require(frame, column)
    values = frame[column]
    if values.dtype == pl.Boolean:
        return pl.Series(column, values, dtype=pl.Boolean)
    if not values.dtype.is_numeric():
        raise FairnessInputError(column, f"outcome must be 0/1 or true/false, got type {values.dtype}")
    seen = set(values.drop_nulls().unique().to_list())
    if not seen <= {0, 1}:
        raise FairnessInputError(column, f"outcome must be 0/1 (1 = bad), got values {sorted(seen)[:5]}")
    return values.cast(pl.Boolean)


def _require(frame: pl.DataFrame, column: str) -> None:
    if column not in frame.columns:
        raise FairnessInputError(column, f"no such column; columns are {frame.columns[:20]}")


def audit(
    frame: pl.DataFrame, cols: AuditColumns, *, seed: int = 0, group_rows_min: int = GROUP_ROWS_MIN,
) -> dict[str, Any]:
    """The fairness report: one row per group, the reference group and warnings."""
    _require(frame, cols.group)
    work = pl.DataFrame({
        "group": frame[cols.group].cast(pl.String).fill_null("<missing>"),
        "approved": approved_flags(frame, cols.decision, cols.positive_decision),
        "bad": bad_flags(frame, cols.outcome) if cols.outcome else pl.Series([None] * frame.height, dtype=pl.Boolean),
        "price": _price(frame, cols.price),
    })
    if work.height == 0:
        raise FairnessInputError("data", "no rows")
    counts = _group_counts(work)
    reference = _reference(counts, cols.reference_group)
    rng = np.random.default_rng(seed)
    ref_row = next(r for r in counts if r["group"] == reference)
    groups = [_group_report(r, ref_row, rng, outcome=cols.outcome is not None) for r in counts]
    warnings = [f"group {r['group']!r} has {r['rows']} rows (< {group_rows_min}): wide intervals"
                for r in counts if r["rows"] < group_rows_min]
    return {"rows": work.height, "group_column": cols.group, "reference_group": reference,
            "four_fifths_threshold": FOUR_FIFTHS, "groups": groups, "warnings": warnings,
            "flagged_groups": [g["group"] for g in groups if g["four_fifths_flag"]]}


def _price(frame: pl.DataFrame, column: str | None) -> pl.Series:
    if column is None:
        return pl.Series([None] * frame.height, dtype=pl.Float64)
    _require(frame, column)
    if not frame[column].dtype.is_numeric():
        raise FairnessInputError(column, f"price must be numeric, got type {frame[column].dtype}")
    return frame[column].cast(pl.Float64)


def _group_counts(work: pl.DataFrame) -> list[dict[str, Any]]:
    approved, bad = pl.col("approved"), pl.col("bad")
    good = bad.not_()
    grouped = work.group_by("group").agg(
        pl.len().alias("rows"),
        approved.sum().alias("approved"),
        (approved & bad.is_not_null()).sum().alias("approved_with_outcome"),
        (approved & bad.fill_null(False)).sum().alias("approved_bad"),
        good.fill_null(False).sum().alias("good"),
        (approved & good.fill_null(False)).sum().alias("good_approved"),
        pl.col("price").filter(approved & pl.col("price").is_not_null()).mean().alias("price_mean"),
        pl.col("price").filter(approved & pl.col("price").is_not_null()).std().alias("price_sd"),
        pl.col("price").filter(approved & pl.col("price").is_not_null()).len().alias("priced"),
    ).sort("group")
    return grouped.to_dicts()


def _reference(counts: list[dict[str, Any]], chosen: str | None) -> str:
    """The given reference group, else the largest group (ties: the first by name)."""
    names = [r["group"] for r in counts]
    if chosen is not None:
        if chosen not in names:
            raise FairnessInputError("reference_group", f"{chosen!r} is not a group; groups are {names[:20]}")
        return chosen
    return str(max(counts, key=lambda r: (r["rows"], [-ord(ch) for ch in r["group"]]))["group"])


def _group_report(
    row: dict[str, Any], ref: dict[str, Any], rng: np.random.Generator, *, outcome: bool,
) -> dict[str, Any]:
    n, k = int(row["rows"]), int(row["approved"])
    rate = k / n
    di, di_ci = _ratio_ci(k, n, int(ref["approved"]), int(ref["rows"]), rng)
    out: dict[str, Any] = {
        "group": row["group"], "rows": n, "approved": k, "approval_rate": rate, "approval_rate_ci95": wilson(k, n),
        "disparate_impact": di, "disparate_impact_ci95": di_ci,
        "four_fifths_flag": di is not None and di < FOUR_FIFTHS,
    }
    if outcome:
        out |= _outcome_metrics(row, ref, rng)
    if row["priced"]:
        out |= _price_metrics(row)
    return out


def _outcome_metrics(row: dict[str, Any], ref: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    m, b = int(row["approved_with_outcome"]), int(row["approved_bad"])
    g, ga = int(row["good"]), int(row["good_approved"])
    eo, eo_ci = _difference_ci(ga, g, int(ref["good_approved"]), int(ref["good"]), rng)
    return {"bad_rate_approved": (b / m if m else None), "bad_rate_approved_ci95": wilson(b, m),
            "approved_with_outcome": m, "true_positive_rate": (ga / g if g else None),
            "true_positive_rate_ci95": wilson(ga, g), "equal_opportunity_difference": eo,
            "equal_opportunity_difference_ci95": eo_ci}


def _price_metrics(row: dict[str, Any]) -> dict[str, Any]:
    n, mean, sd = int(row["priced"]), float(row["price_mean"]), float(row["price_sd"] or 0.0)
    half = Z_95 * sd / math.sqrt(n)
    return {"price_mean": mean, "price_mean_ci95": (mean - half, mean + half), "priced": n}


def _draws(k: int, n: int, rng: np.random.Generator) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Bootstrap rates of a k-of-n proportion (see the module docstring)."""
    return np.asarray(rng.binomial(n, k / n, BOOTSTRAPS) / n, dtype=np.float64)


def _ratio_ci(k: int, n: int, k_ref: int, n_ref: int, rng: np.random.Generator) -> tuple[float | None, Any]:
    if n == 0 or n_ref == 0 or k_ref == 0:
        return None, None
    ratios = _draws(k, n, rng) / np.maximum(_draws(k_ref, n_ref, rng), 1.0 / n_ref)
    return (k / n) / (k_ref / n_ref), _percentiles(ratios)


def _difference_ci(k: int, n: int, k_ref: int, n_ref: int, rng: np.random.Generator) -> tuple[float | None, Any]:
    if n == 0 or n_ref == 0:
        return None, None
    return k / n - k_ref / n_ref, _percentiles(_draws(k, n, rng) - _draws(k_ref, n_ref, rng))


def _percentiles(values: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))
