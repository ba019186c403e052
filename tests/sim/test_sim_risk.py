"""The economy behaves like a credit book: risk ordering, packaged data, rings, recovery, learnability."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from tests.sim.conftest import auc

TOLERANCE = 1.5  # declared revenue above 1.5x what tax or invoices imply is a red flag


def _rate(frame: pl.DataFrame, condition: pl.Expr) -> float:
    return float(frame.filter(condition)["default_12m"].mean())  # type: ignore[arg-type]


def test_worst_z_decile_defaults_far_more_than_best(frame: pl.DataFrame) -> None:
    low, high = frame["latent_z"].quantile(0.1), frame["latent_z"].quantile(0.9)
    worst, best = _rate(frame, pl.col("latent_z") <= low), _rate(frame, pl.col("latent_z") >= high)
    assert worst > 5 * best


def test_default_rate_rises_with_multi_borrowing(frame: pl.DataFrame) -> None:
    none, some, many = (
        _rate(frame, pl.col("open_loans_elsewhere") == 0),
        _rate(frame, pl.col("open_loans_elsewhere").is_between(1, 3)),
        _rate(frame, pl.col("open_loans_elsewhere") >= 5),
    )
    assert none < some < many


def test_default_rate_rises_with_dti_and_packaging_and_rings(frame: pl.DataFrame) -> None:
    assert _rate(frame, pl.col("debt_to_income") > 1.0) > _rate(frame, pl.col("debt_to_income") < 0.3)
    assert _rate(frame, pl.col("is_packaged")) > 2 * _rate(frame, ~pl.col("is_packaged"))
    assert _rate(frame, pl.col("ring_id").is_not_null()) > 2 * _rate(frame, pl.col("ring_id").is_null())


def test_packaged_declared_revenue_outruns_tax_and_invoices(frame: pl.DataFrame) -> None:
    businesses = frame.filter(pl.col("applicant_type") != "individual")
    assert 0.02 < frame["is_packaged"].mean() < 0.04  # type: ignore[operator]
    tax_implied_monthly = pl.col("annual_tax_paid_minor") / 0.02 / 12  # effective rate ≈ 2 % of revenue
    # Invoice coverage differs by segment, so compare each applicant with the segment's typical ratio.
    invoice_ratio = pl.col("declared_monthly_revenue_minor") * 12 / pl.col("invoice_revenue_12m_minor")
    flagged = businesses.filter(pl.col("invoice_revenue_12m_minor") > 0).with_columns(
        over_tax=pl.col("declared_monthly_revenue_minor") > TOLERANCE * tax_implied_monthly,
        over_invoices=invoice_ratio > TOLERANCE * invoice_ratio.median().over("segment"),
    )
    by_truth = flagged.group_by("is_packaged").agg(pl.col("over_tax", "over_invoices").mean()).sort("is_packaged")
    for check in ("over_tax", "over_invoices"):
        honest, packaged = by_truth[check].to_list()
        assert packaged > 0.7 and honest < 0.2 and packaged > 4 * honest, (check, honest, packaged)


def test_rings_share_identifiers_and_outsiders_rarely_do(frame: pl.DataFrame) -> None:
    ringed = frame.filter(pl.col("ring_id").is_not_null())
    sizes = ringed.group_by("ring_id").len()["len"]
    assert sizes.min() >= 3 and sizes.max() <= 15  # type: ignore[operator]
    identifiers = ["phone_hash", "device_id", "bank_account_hash", "address_hash"]
    distinct = ringed.group_by("ring_id").agg(pl.col(identifiers).n_unique())
    shares_something = distinct.select(pl.min_horizontal(identifiers) == 1)[identifiers[0]]
    assert shares_something.all()
    outsiders = frame.filter(pl.col("ring_id").is_null())
    assert outsiders["phone_hash"].is_unique().all() and outsiders["device_id"].is_unique().all()
    assert outsiders["address_hash"].is_duplicated().mean() < 0.05  # type: ignore[operator]


def test_recovery_is_higher_with_better_collateral(frame: pl.DataFrame) -> None:
    means = dict(frame.drop_nulls("recovery_rate").group_by("collateral").agg(pl.col("recovery_rate").mean()).rows())
    assert means["property"] > means["vehicle"] > means["receivables"] > means["guarantee"] > means["none"]


def test_pd_true_discriminates_but_not_perfectly(frame: pl.DataFrame) -> None:
    label = frame["default_12m"].to_numpy()
    assert 0.70 < auc(frame["pd_true"].to_numpy(), label) < 0.92


def test_a_small_logistic_regression_learns_the_data(frame: pl.DataFrame) -> None:
    columns = ["bureau_score", "debt_to_income", "open_loans_elsewhere", "inquiries_6m", "past_delinquencies_24m"]
    usable = frame.drop_nulls(columns)
    x = usable.select(pl.col(columns).cast(pl.Float64)).to_numpy()
    x = np.column_stack([np.ones(len(x)), (x - x.mean(axis=0)) / x.std(axis=0)])
    label = usable["default_12m"].to_numpy()
    half = len(x) // 2
    weights = _fit_logistic(x[:half], label[:half])
    score = x[half:] @ weights
    assert 0.65 < auc(score, label[half:]) < 0.92


def _fit_logistic(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Newton-Raphson (IRLS) with a touch of ridge so it always converges."""
    weights = np.zeros(x.shape[1])
    for _ in range(12):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(x.shape[1])
        weights += np.linalg.solve(hessian, x.T @ (y - p))
    return weights
