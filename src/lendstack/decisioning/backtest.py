"""Backtest and what-if: one or two policies over a historical frame with known outcomes, columnar.

The batch decision mirrors `flow.decide` step for step with the same integer arithmetic (PD in
1e-8, rates in 1e-6, limits in minor units) and the same compiled expressions, so it gives the
identical outcome, grade, rate and limit (tested against the online path on a random sample).
History carries no fraud flags or source failures: those inputs are zero here. Exposure is zero
(each historical application is taken on its own).

The history is read against the application schema first (`history_frame`): every column a policy
may name is cast to its type (dates from 'YYYY-MM-DD' text, numbers from text), and a value the
schema does not allow (out of range, NaN, missing where required) is a BacktestError naming the
column, the row and the value, so the typed expressions cannot overflow or disagree with the row path.

Besides approval and bad rates the report gives the economics of each policy under stated,
configurable assumptions (`Economics`), the approvals priced below cost (the risk-based rate was
above the product's maximum, so the rate was clamped) and, for two policies, the swap sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lendstack.decisioning.flow import instalment_factor, product_catalog
from lendstack.decisioning.model import ScoringModel
from lendstack.decisioning.names import FEATURES, NAME_TYPES, OPTIONAL_FEATURES, PRE_SCORE, NameType
from lendstack.decisioning.policy import GRADES, Policy
from lendstack.errors import LendstackError
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.pricing import credit_limit_batch, fixed_units, lgd_units, rate_band, rate_units_batch
from lendstack.pricing.rate import pd_units_batch

Progress = Callable[[str], None]
CHUNK_ROWS = 250_000
FloatArray = npt.NDArray[np.float64]


class BacktestError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


def score_frame(frame: pl.DataFrame, model: ScoringModel, progress: Progress | None = None) -> FloatArray:
    """PD of every row through the batch path, in chunks (memory stays flat on 1M rows)."""
    parts = []
    for start in range(0, frame.height, CHUNK_ROWS):
        parts.append(model.pd_batch(frame.slice(start, CHUNK_ROWS)))
        if progress:
            progress(f"scored {min(start + CHUNK_ROWS, frame.height):,} / {frame.height:,}")
    return np.concatenate(parts) if parts else np.empty(0)


# --------------------------------------------------------------------------- reading history

_DTYPES = {"date": pl.Date(), "string": pl.String(), "bool": pl.Boolean()}
_BAD_SHOWN = 3  # example values named in an error


def _dtype(kind: NameType) -> pl.DataType:
    if kind.kind == "number":
        return pl.Int64() if kind.integral else pl.Float64()
    return _DTYPES[kind.kind]


def history_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every column a policy may read cast to its schema type and checked against its
    range; absent nullable columns are added as nulls, PRE_SCORE inputs as 0 (history has no flags)."""
    columns = [_cast(frame.get_column(name), NAME_TYPES[name]) for name in (*FEATURES, *OPTIONAL_FEATURES)
               if name in frame.columns]
    absent = [name for name in FEATURES if name not in frame.columns]
    required = [name for name in absent if not NAME_TYPES[name].nullable]
    if required:
        raise BacktestError(required[0], "column missing from the backtest data")
    data = frame.with_columns(columns)
    extra = [pl.lit(None, dtype=_dtype(NAME_TYPES[name])).alias(name) for name in (*absent, *OPTIONAL_FEATURES)
             if name not in frame.columns]
    extra += [pl.lit(0, dtype=pl.Int64).alias(name) for name in PRE_SCORE if name not in frame.columns]
    return data.with_columns(extra) if extra else data


def _cast(column: pl.Series, kind: NameType) -> pl.Series:
    target = _dtype(kind)
    if column.dtype == target:
        cast = column
    elif kind.kind == "date" and column.dtype == pl.String:
        cast = column.str.strip_chars().str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    elif kind.kind == "date" and column.dtype == pl.Datetime:
        cast = column.dt.date()
    elif kind.kind == "number" and kind.integral and column.dtype.is_float():
        fractional = (column.is_nan() | column.is_infinite() | (column.round() != column)).fill_null(False)
        if fractional.any():
            _refuse(column.name, column.filter(fractional), fractional, "is not a whole number")
        cast = column.cast(pl.Int64, strict=False)
    else:
        cast = column.cast(target, strict=False)
    failed = column.is_not_null() & cast.is_null()
    if failed.any():
        _refuse(column.name, column.filter(failed), failed, f"is not {_described(kind)}")
    _check_values(cast, kind)
    return cast


def _described(kind: NameType) -> str:
    if kind.kind == "number":
        return "a whole number" if kind.integral else "a number"
    return {"date": "a date written YYYY-MM-DD", "string": "text", "bool": "true or false"}[kind.kind]


def _refuse(name: str, values: pl.Series, mask: pl.Series, problem: str) -> None:
    rows = mask.arg_true().head(_BAD_SHOWN).to_list()
    shown = ", ".join(f"row {row + 1}: {value!r}" for row, value in zip(rows, values.head(_BAD_SHOWN), strict=False))
    raise BacktestError(name, f"{int(mask.sum()):,} value(s) {problem} ({shown})")


def _check_values(column: pl.Series, kind: NameType) -> None:
    if not kind.nullable and column.null_count():
        missing = column.is_null()
        _refuse(column.name, column.filter(missing), missing, "missing where a value is required")
    if kind.kind != "number":
        return
    outside = (column.is_nan() if column.dtype.is_float() else pl.Series([False] * column.len())).fill_null(False)
    outside = outside | ((column < kind.low) | (column > kind.high)).fill_null(False)
    if outside.any():
        _refuse(column.name, column.filter(outside), outside, f"outside [{kind.low:g}, {kind.high:g}] or not a number")


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    return history_frame(frame)


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
    methods = {pid: str(getattr(catalog[pid].schedule_method, "value", catalog[pid].schedule_method))
               for pid in set(product_ids.tolist())}
    columns["method"] = np.array([methods[pid] for pid in product_ids], dtype=object)
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
    product = _product_columns(policy, data)
    requested_term = data.get_column("requested_term_months").to_numpy()
    term = np.clip(requested_term, product["term_min"], product["term_max"])  # for the limit and instalment only
    term_outside = (requested_term < product["term_min"]) | (requested_term > product["term_max"])
    rates = _rates(policy, data, units, grade, product)
    base = data.select(policy.income.to_polars().cast(pl.Float64).floor().alias("income"),
                       pl.col("applied_on").dt.month().cast(pl.Int64).alias("month"))
    limits = credit_limit_batch(
        policy.document.limits, base.get_column("income").fill_null(np.nan).to_numpy(), term,
        base.get_column("month").to_numpy(), data.get_column("segment").to_numpy(),
        data.get_column("co2_reduced_tonnes").cast(pl.Float64).fill_null(np.nan).to_numpy(), product["amount_max"],
    )
    amount = np.minimum(limits, data.get_column("requested_amount_minor").to_numpy())
    instalment = _instalments(amount, rates, term, product["method"])
    data = data.with_columns(pl.Series("new_instalment_minor", instalment, dtype=pl.Int64))
    knock = [expression.to_polars() for _, expression in policy.knockouts]
    declines = [e.to_polars() for r, e in policy.rules if r.action == "decline"]
    refers = [e.to_polars() for r, e in policy.rules if r.action == "refer"]
    flags = data.select(_any_fires(knock).alias("knockout"), _any_fires(declines).alias("rule_decline"),
                        _any_fires(refers).alias("rule_refer"))
    rules = policy.document.decision
    term_action = rules.term_outside_product
    decline = (flags.get_column("knockout").to_numpy() | flags.get_column("rule_decline").to_numpy()
               | np.isin(grade, list(rules.decline_grades)) | (amount < product["amount_min"])
               | (term_outside & (term_action == "decline")))
    refer = (flags.get_column("rule_refer").to_numpy() | np.isin(grade, list(rules.refer_grades))
             | (term_outside & (term_action == "refer")))
    outcome = np.where(decline, "decline", np.where(refer, "refer", "approve"))
    lgd = _lgd_units(policy, data)
    unclamped = _rates(policy, data, units, grade, product, clamped=False)
    return pl.DataFrame({
        "application_id": data.get_column("application_id"), "outcome": outcome, "grade": grade, "pd": units / 10**8,
        "lgd": lgd / 10**6, "rate_annual": rates / 10**6, "limit_minor": limits, "amount_minor": amount, "term": term,
        "product_id": product["product_id"], "schedule_method": product["method"].astype(str),
        "new_instalment_minor": instalment, "term_outside_product": term_outside,
        "rate_unclamped_annual": unclamped / 10**6, "priced_below_cost": unclamped > product["rate_high"],
    })


def _instalments(amount: npt.NDArray[np.int64], rates: npt.NDArray[np.int64], term: npt.NDArray[np.int64],
                 method: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """`flow.new_instalment_minor` per row: the factor from the same Python function, once per
    distinct (rate, term, method), so the online and the batch instalment are the same float."""
    keys = pl.DataFrame({"rate": rates, "term": term, "method": method.astype(str)})
    distinct = keys.unique(maintain_order=True)
    factors = [instalment_factor(int(r), int(t), str(m)) for r, t, m in distinct.iter_rows()]
    table = distinct.with_columns(pl.Series("factor", factors, dtype=pl.Float64))
    factor = keys.join(table, on=["rate", "term", "method"], how="left", maintain_order="left").get_column("factor")
    payment = np.ceil(amount.astype(np.float64) * factor.to_numpy())
    return np.asarray(np.minimum(payment, AMOUNT_MINOR_MAX), dtype=np.int64)


def _lgd_units(policy: Policy, data: pl.DataFrame) -> npt.NDArray[np.int64]:
    pricing = policy.document.pricing
    table = {name: lgd_units(value) for name, value in pricing.lgd_by_collateral.items()}
    return data.get_column("collateral").replace_strict(
        list(table), list(table.values()), default=lgd_units(pricing.lgd_default), return_dtype=pl.Int64
    ).to_numpy()


def _rates(policy: Policy, data: pl.DataFrame, units: npt.NDArray[np.int64], grade: npt.NDArray[Any],
           product: dict[str, npt.NDArray[Any]], clamped: bool = True) -> npt.NDArray[np.int64]:
    """Risk-based rates in 1e-6 units, clamped to the product band (or not: the price risk asks for)."""
    fixed = np.zeros(len(units), dtype=np.int64)
    for name in GRADES:
        fixed = np.where(grade == name, fixed_units(policy.document.pricing, name), fixed)
    low, high = (product["rate_low"], product["rate_high"]) if clamped else (
        np.zeros(len(units), dtype=np.int64), np.full(len(units), np.iinfo(np.int64).max))
    return rate_units_batch(units / 10**8, _lgd_units(policy, data), fixed, low, high)


@dataclass(frozen=True)
class Economics:
    """Assumptions of the expected profit, shown in the report. Rates are annual shares of the
    drawn balance; None takes the policy's own pricing inputs (cost_of_funds, operating_cost).

    profit = interest income − expected loss − funding cost − operating cost, over the loan's life:
    interest, funding and operating cost are rates × balance-years of the schedule (the full amount
    drawn at once, repaid on the product's schedule, no prepayment); expected loss is
    PD × LGD × EAD with the model's 12-month PD taken once (lifetime PD and the interest lost on
    defaulted loans are not modelled), EAD = `ead_share` × amount, LGD from the policy by collateral.
    """

    funding_rate_annual: float | None = None
    operating_cost_annual: float | None = None
    ead_share: float = 1.0
    cost_per_loan_minor: int = 0

    def __post_init__(self) -> None:
        for name in ("funding_rate_annual", "operating_cost_annual"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise BacktestError(name, f"must be an annual share in [0, 1], got {value}")
        if not 0 < self.ead_share <= 2:
            raise BacktestError("ead_share", f"must be in (0, 2], got {self.ead_share}")
        if not 0 <= self.cost_per_loan_minor <= AMOUNT_MINOR_MAX:
            raise BacktestError("cost_per_loan_minor", f"must be in [0, {AMOUNT_MINOR_MAX}]")

    def resolved(self, policy: Policy) -> dict[str, Any]:
        pricing = policy.document.pricing
        return {
            "funding_rate_annual": float(pricing.cost_of_funds if self.funding_rate_annual is None
                                         else self.funding_rate_annual),
            "operating_cost_annual": float(pricing.operating_cost if self.operating_cost_annual is None
                                           else self.operating_cost_annual),
            "ead_share": self.ead_share, "cost_per_loan_minor": self.cost_per_loan_minor,
            "funding_from": "policy pricing" if self.funding_rate_annual is None else "option",
            "operating_from": "policy pricing" if self.operating_cost_annual is None else "option",
            "loss": "PD (model, 12 months, once) x LGD (policy, by collateral) x EAD (ead_share x amount)",
            "balance": "full amount drawn at once, repaid on the product schedule, no prepayment",
        }


def summarize(decided: pl.DataFrame, outcomes: pl.DataFrame | None,
              economics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Overall and by-segment KPIs of one policy's decisions (+ realized outcomes when known)."""
    frame = decided if outcomes is None else decided.with_columns(outcomes)
    overall = _kpis(frame, economics)
    by_segment: dict[str, dict[str, Any]] = {}
    if "segment" in frame.columns:
        by_segment = {str(key[0]): _kpis(group, economics) for key, group in frame.group_by("segment")}
    return {"overall": overall, "by_segment": dict(sorted(by_segment.items()))}


def _kpis(frame: pl.DataFrame, economics: dict[str, Any] | None = None) -> dict[str, Any]:
    approved = frame.filter(pl.col("outcome") == "approve")
    n, k = frame.height, approved.height
    realized = _mean(approved, "default_12m") if "default_12m" in frame.columns and k else None
    el = (approved.get_column("pd") * approved.get_column("lgd") * approved.get_column("amount_minor")).sum()
    kpis: dict[str, Any] = {
        "applications": n, "approved": k,
        "approval_rate": k / n if n else 0.0,
        "refer_rate": frame.filter(pl.col("outcome") == "refer").height / n if n else 0.0,
        "expected_bad_rate": _mean(approved, "pd") if k else 0.0,
        "realized_bad_rate": realized,
        "expected_loss_minor": round(float(el or 0)) if k else 0,
        "volume_minor": int(approved.get_column("amount_minor").sum()) if k else 0,
        "average_rate_annual": _mean(approved, "rate_annual") if k else 0.0,
    }
    if "term_outside_product" in frame.columns:
        kpis["term_outside_product"] = int(frame.get_column("term_outside_product").sum())
    if "priced_below_cost" in frame.columns:
        kpis["priced_below_cost"] = _below_cost(approved)
    if economics is not None and "schedule_method" in frame.columns:
        kpis["economics"] = _profit(approved, economics)
    return kpis


def _below_cost(approved: pl.DataFrame) -> dict[str, Any]:
    """Approvals whose risk-based rate was above the product's maximum (the rate was clamped)."""
    below = approved.filter(pl.col("priced_below_cost"))
    gap = (below.get_column("rate_unclamped_annual") - below.get_column("rate_annual")).mean() if below.height else None
    return {"count": below.height, "share_of_approved": below.height / approved.height if approved.height else 0.0,
            "volume_minor": int(below.get_column("amount_minor").sum()) if below.height else 0,
            "average_rate_gap_annual": None if gap is None else float(gap)}  # type: ignore[arg-type]


def balance_years(amount: FloatArray, rate_annual: FloatArray, term: FloatArray, method: npt.NDArray[Any]
                  ) -> FloatArray:
    """Σ outstanding balance × time (minor-unit years) of each schedule; interest = rate × this."""
    monthly = rate_annual / 12
    with np.errstate(divide="ignore", invalid="ignore"):
        payment = np.where(monthly > 0, amount * monthly / (1 - (1 + monthly) ** -term), amount / term)
        annuity = np.where(monthly > 0, (term * payment - amount) / np.where(rate_annual > 0, rate_annual, 1),
                           amount * (term + 1) / 24)
    level = amount * term / 12  # interest-only and bullet: the whole amount outstanding for the term
    principal = amount * (term + 1) / 24  # equal principal: the balance falls by amount / term each month
    years = np.where(method == "equal_installment", annuity, np.where(method == "equal_principal", principal, level))
    return np.asarray(years, dtype=np.float64)


def _profit(approved: pl.DataFrame, economics: dict[str, Any]) -> dict[str, Any]:
    if not approved.height:
        return dict.fromkeys(("interest_income_minor", "expected_loss_minor", "funding_cost_minor",
                              "operating_cost_minor", "expected_profit_minor", "profit_per_approval_minor"), 0)
    amount = approved.get_column("amount_minor").to_numpy().astype(np.float64)
    rate = approved.get_column("rate_annual").to_numpy()
    years = balance_years(amount, rate, approved.get_column("term").to_numpy().astype(np.float64),
                          approved.get_column("schedule_method").to_numpy())
    interest = float((rate * years).sum())
    loss = float((approved.get_column("pd").to_numpy() * approved.get_column("lgd").to_numpy() * amount).sum()
                 * economics["ead_share"])
    funding = float(years.sum() * economics["funding_rate_annual"])
    operating = float(years.sum() * economics["operating_cost_annual"]) + economics["cost_per_loan_minor"] * len(amount)
    profit = interest - loss - funding - operating
    return {"interest_income_minor": round(interest), "expected_loss_minor": round(loss),
            "funding_cost_minor": round(funding), "operating_cost_minor": round(operating),
            "expected_profit_minor": round(profit), "profit_per_approval_minor": round(profit / len(amount))}


def _mean(frame: pl.DataFrame, column: str) -> float:
    value: Any = frame.get_column(column).mean()
    return float(value or 0.0)


def backtest(frame: pl.DataFrame, policy: Policy, model: ScoringModel, against: Policy | None = None,
             progress: Progress | None = None, economics: Economics | None = None) -> dict[str, Any]:
    """KPIs of `policy` (and `against`, side by side, with a disagreement matrix and swap sets) on `frame`."""
    missing = [name for name in ("application_id", "segment", "applied_on") if name not in frame.columns]
    if missing:
        raise BacktestError(missing[0], "column missing from the backtest data")
    history = history_frame(frame)
    assumptions = economics or Economics()
    pd = score_frame(history, model, progress)
    extra = history.select([c for c in ("segment", "default_12m") if c in history.columns])
    first = decide_frame(history, policy, pd)
    shown = {k: v for k, v in asdict(assumptions).items()}
    report: dict[str, Any] = {"rows": frame.height, "model_version": model.version, "economics_assumptions": shown,
                              "policies": {policy.key: _policy_report(policy, first, extra, assumptions)}}
    if against is not None:
        second = decide_frame(history, against, pd)
        report["policies"][against.key] = _policy_report(against, second, extra, assumptions)
        report["disagreement"] = disagreement(first, second)
        report["swap_sets"] = swap_sets(first, second, extra, (policy.key, against.key))
    return report


def _policy_report(policy: Policy, decided: pl.DataFrame, extra: pl.DataFrame, economics: Economics
                   ) -> dict[str, Any]:
    resolved = economics.resolved(policy)
    return {"hash": policy.content_hash, "economics_assumptions": resolved, **summarize(decided, extra, resolved)}


def disagreement(first: pl.DataFrame, second: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of (first outcome → second outcome)."""
    pairs = pl.DataFrame({"a": first.get_column("outcome"), "b": second.get_column("outcome")})
    counts = pairs.group_by("a", "b").len()
    matrix = {a: dict.fromkeys(("approve", "refer", "decline"), 0) for a in ("approve", "refer", "decline")}
    for a, b, n in counts.iter_rows():
        matrix[a][b] = int(n)
    return matrix


def swap_sets(first: pl.DataFrame, second: pl.DataFrame, outcomes: pl.DataFrame | None,
              keys: tuple[str, str]) -> dict[str, Any]:
    """Swap-outs and swap-ins between two policies: approved by one and declined (or referred) by the
    other, with their counts, volume, expected (mean PD) and realised bad rate where outcomes are known."""
    frame = pl.DataFrame({"a": first.get_column("outcome"), "b": second.get_column("outcome"),
                          "pd": first.get_column("pd"), "amount_a": first.get_column("amount_minor"),
                          "amount_b": second.get_column("amount_minor")})
    if outcomes is not None and "default_12m" in outcomes.columns:
        frame = frame.with_columns(outcomes.get_column("default_12m"))
    a, b = keys
    groups = {
        f"approved_by_{a}_only": (pl.col("a") == "approve") & (pl.col("b") != "approve"),
        f"approved_by_{b}_only": (pl.col("b") == "approve") & (pl.col("a") != "approve"),
        "approved_by_both": (pl.col("a") == "approve") & (pl.col("b") == "approve"),
    }
    report = {name: _swap(frame.filter(mask), "amount_a" if name.endswith(f"{a}_only") else "amount_b")
              for name, mask in groups.items()}
    return {"first": a, "second": b, **report}


def _swap(group: pl.DataFrame, amount: str) -> dict[str, Any]:
    n = group.height
    other = "b" if amount == "amount_a" else "a"
    return {
        "count": n,
        "declined_by_other": group.filter(pl.col(other) == "decline").height,
        "referred_by_other": group.filter(pl.col(other) == "refer").height,
        "volume_minor": int(group.get_column(amount).sum()) if n else 0,
        "expected_bad_rate": _mean(group, "pd") if n else None,
        "realized_bad_rate": _mean(group, "default_12m") if n and "default_12m" in group.columns else None,
    }
