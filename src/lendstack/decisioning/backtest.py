"""Backtest and what-if: one or two policies over a historical frame with known outcomes, columnar.

The batch decision mirrors `flow.decide` step for step with the same integer arithmetic (PD in
1e-8, rates in 1e-6, limits in minor units) and the same compiled expressions, so it gives the
identical outcome, grade, rate and limit (tested against the online path on a random sample).
History carries no fraud flags or source failures: those inputs are zero here. Exposure is zero
(each historical application is taken on its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lendstack.decisioning.flow import product_catalog
from lendstack.decisioning.model import ScoringModel
from lendstack.decisioning.names import OPTIONAL_FEATURES, PRE_SCORE
from lendstack.decisioning.policy import GRADES, Policy
from lendstack.pricing import credit_limit_batch, fixed_units, lgd_units, rate_band, rate_units_batch
from lendstack.pricing.rate import pd_units_batch

Progress = Callable[[str], None]
CHUNK_ROWS = 250_000
FloatArray = npt.NDArray[np.float64]


class BacktestError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def score_frame(frame: pl.DataFrame, model: ScoringModel, progress: Progress | None = None) -> FloatArray:
    """PD of every row through the batch path, in chunks (memory stays flat on 1M rows)."""
    parts = []
    for start in range(0, frame.height, CHUNK_ROWS):
        parts.append(model.pd_batch(frame.slice(start, CHUNK_ROWS)))
        if progress:
            progress(f"scored {min(start + CHUNK_ROWS, frame.height):,} / {frame.height:,}")
    return np.concatenate(parts) if parts else np.empty(0)


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    extra = [pl.lit(None, dtype=pl.Float64).alias(name) for name in OPTIONAL_FEATURES if name not in frame.columns]
    extra += [pl.lit(0, dtype=pl.Int64).alias(name) for name in PRE_SCORE if name not in frame.columns]
    return frame.with_columns(extra) if extra else frame


def _any_fires(expressions: list[pl.Expr]) -> pl.Expr:
    if not expressions:
        return pl.lit(False)
    return pl.any_horizontal([expression.fill_null(False) for expression in expressions])


def _product_columns(policy: Policy, frame: pl.DataFrame) -> dict[str, npt.NDArray[Any]]:
    mapping = policy.document.products_by_applicant_type
    product_ids = frame.get_column("applicant_type").replace_strict(
        list(mapping), list(mapping.values()), default=policy.document.product_id, return_dtype=pl.String
    ).to_numpy()
    catalog = product_catalog()
    unknown = set(product_ids.tolist()) - set(catalog)
    if unknown:
        raise BacktestError("product_id", f"policy {policy.key} names unknown product {sorted(unknown)[0]!r}")
    columns: dict[str, npt.NDArray[Any]] = {"product_id": product_ids}
    for name, get in (("amount_min", lambda p: p.amount_min_minor), ("amount_max", lambda p: p.amount_max_minor),
                      ("term_min", lambda p: p.term_min), ("term_max", lambda p: p.term_max),
                      ("rate_low", lambda p: rate_band(p)[0]), ("rate_high", lambda p: rate_band(p)[1])):
        values = {pid: int(get(catalog[pid])) for pid in set(product_ids.tolist())}
        columns[name] = np.array([values[pid] for pid in product_ids], dtype=np.int64) if len(values) > 1 else \
            np.full(len(product_ids), next(iter(values.values()), 0), dtype=np.int64)
    return columns


def decide_frame(frame: pl.DataFrame, policy: Policy, pd: FloatArray) -> pl.DataFrame:
    """Outcome, grade, rate, limit and offer amount of every row (the columnar `decide`)."""
    data = _prepare(frame)
    units = pd_units_batch(pd)
    cuts = [int(cut.pd_max * 10**8) for cut in policy.document.grades]
    grade = np.array(GRADES[: len(cuts)])[np.searchsorted(np.array(cuts), units, side="left")]
    data = data.with_columns(pl.Series("pd", units / 10**8), pl.Series("grade", grade))
    knock = [expression.to_polars() for _, expression in policy.knockouts]
    declines = [e.to_polars() for r, e in policy.rules if r.action == "decline"]
    refers = [e.to_polars() for r, e in policy.rules if r.action == "refer"]
    flags = data.select(
        _any_fires(knock).alias("knockout"), _any_fires(declines).alias("rule_decline"),
        _any_fires(refers).alias("rule_refer"), policy.income.to_polars().cast(pl.Float64).floor().alias("income"),
        pl.col("applied_on").cast(pl.Date).dt.month().cast(pl.Int64).alias("month"),
    )
    product = _product_columns(policy, data)
    term = np.clip(data.get_column("requested_term_months").to_numpy(), product["term_min"], product["term_max"])
    rates = _rates(policy, data, units, grade, product)
    limits = credit_limit_batch(
        policy.document.limits, flags.get_column("income").fill_null(np.nan).to_numpy(), term,
        flags.get_column("month").to_numpy(), data.get_column("segment").to_numpy(),
        data.get_column("co2_reduced_tonnes").cast(pl.Float64).fill_null(np.nan).to_numpy(), product["amount_max"],
    )
    amount = np.minimum(limits, data.get_column("requested_amount_minor").to_numpy())
    rules = policy.document.decision
    decline = (flags.get_column("knockout").to_numpy() | flags.get_column("rule_decline").to_numpy()
               | np.isin(grade, list(rules.decline_grades)) | (amount < product["amount_min"]))
    refer = flags.get_column("rule_refer").to_numpy() | np.isin(grade, list(rules.refer_grades))
    outcome = np.where(decline, "decline", np.where(refer, "refer", "approve"))
    lgd = _lgd_units(policy, data)
    return pl.DataFrame({
        "application_id": data.get_column("application_id"), "outcome": outcome, "grade": grade, "pd": units / 10**8,
        "lgd": lgd / 10**6, "rate_annual": rates / 10**6, "limit_minor": limits, "amount_minor": amount, "term": term,
        "product_id": product["product_id"],
    })


def _lgd_units(policy: Policy, data: pl.DataFrame) -> npt.NDArray[np.int64]:
    pricing = policy.document.pricing
    table = {name: lgd_units(value) for name, value in pricing.lgd_by_collateral.items()}
    return data.get_column("collateral").replace_strict(
        list(table), list(table.values()), default=lgd_units(pricing.lgd_default), return_dtype=pl.Int64
    ).to_numpy()


def _rates(policy: Policy, data: pl.DataFrame, units: npt.NDArray[np.int64], grade: npt.NDArray[Any],
           product: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.int64]:
    fixed = np.zeros(len(units), dtype=np.int64)
    for name in GRADES:
        fixed = np.where(grade == name, fixed_units(policy.document.pricing, name), fixed)
    return rate_units_batch(units / 10**8, _lgd_units(policy, data), fixed, product["rate_low"],
                            product["rate_high"])


def summarize(decided: pl.DataFrame, outcomes: pl.DataFrame | None) -> dict[str, Any]:
    """Overall and by-segment KPIs of one policy's decisions (+ realized outcomes when known)."""
    frame = decided if outcomes is None else decided.with_columns(outcomes)
    overall = _kpis(frame)
    by_segment = {str(key[0]): _kpis(group) for key, group in frame.group_by("segment", maintain_order=True)} \
        if "segment" in frame.columns else {}
    return {"overall": overall, "by_segment": dict(sorted(by_segment.items()))}


def _kpis(frame: pl.DataFrame) -> dict[str, Any]:
    approved = frame.filter(pl.col("outcome") == "approve")
    n, k = frame.height, approved.height
    realized = _mean(approved, "default_12m") if "default_12m" in frame.columns and k else None
    el = (approved.get_column("pd") * approved.get_column("lgd") * approved.get_column("amount_minor")).sum()
    return {
        "applications": n, "approved": k,
        "approval_rate": k / n if n else 0.0,
        "refer_rate": frame.filter(pl.col("outcome") == "refer").height / n if n else 0.0,
        "expected_bad_rate": _mean(approved, "pd") if k else 0.0,
        "realized_bad_rate": realized,
        "expected_loss_minor": round(float(el or 0)) if k else 0,
        "volume_minor": int(approved.get_column("amount_minor").sum()) if k else 0,
        "average_rate_annual": _mean(approved, "rate_annual") if k else 0.0,
    }


def _mean(frame: pl.DataFrame, column: str) -> float:
    value: Any = frame.get_column(column).mean()
    return float(value or 0.0)


def backtest(frame: pl.DataFrame, policy: Policy, model: ScoringModel, against: Policy | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
    """KPIs of `policy` (and `against`, side by side, with a disagreement matrix) on `frame`."""
    missing = [name for name in ("application_id", "segment", "applied_on") if name not in frame.columns]
    if missing:
        raise BacktestError(missing[0], "column missing from the backtest data")
    pd = score_frame(frame, model, progress)
    extra = frame.select([c for c in ("segment", "default_12m") if c in frame.columns])
    first = decide_frame(frame, policy, pd)
    report: dict[str, Any] = {"rows": frame.height, "model_version": model.version,
                              "policies": {policy.key: {"hash": policy.content_hash, **summarize(first, extra)}}}
    if against is not None:
        second = decide_frame(frame, against, pd)
        report["policies"][against.key] = {"hash": against.content_hash, **summarize(second, extra)}
        report["disagreement"] = disagreement(first, second)
    return report


def disagreement(first: pl.DataFrame, second: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of (first outcome → second outcome)."""
    pairs = pl.DataFrame({"a": first.get_column("outcome"), "b": second.get_column("outcome")})
    counts = pairs.group_by("a", "b").len()
    matrix = {a: dict.fromkeys(("approve", "refer", "decline"), 0) for a in ("approve", "refer", "decline")}
    for a, b, n in counts.iter_rows():
        matrix[a][b] = int(n)
    return matrix
