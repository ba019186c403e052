"""Business flows: monthly POS / e-commerce / delivery revenue, tax filings, VAT invoices, orders.

Every source is a noisy view of one true monthly revenue path per applicant. Packaged applicants
(包装) inflate the flows they control (declared revenue, POS flows via fake transactions, 刷流水)
but cannot inflate what the tax bureau and the invoice system recorded, so cross-checks catch them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lendstack.sim.columns import Columns, float_column, int_column, money_column
from lendstack.sim.draws import BoolArray, IntArray, lognormal_unit_mean, sigmoid, stream
from lendstack.sim.population import Population
from lendstack.sim.shift import Shift
from lendstack.sim.tables import (
    REGION_LEVEL_LOG,
    SEASONALITY,
    SEGMENT_INVOICE_COVERAGE,
    SEGMENT_INVOICE_SIZE_CNY,
    SEGMENT_ORDER_SIZE_CNY,
    SEGMENT_REVENUE_LOG_CNY,
    SEGMENT_REVENUE_NOISE,
    FloatArray,
)

MONTHS = 12
REVENUE_COLUMNS = tuple(f"revenue_m{k:02d}_minor" for k in range(1, MONTHS + 1))
TAX_RATE_EFFECTIVE = 0.02  # VAT + income tax of a small-scale taxpayer as a share of revenue
FILING_MONTHS_MAX = 120
POS_INFLATION_LOW, POS_INFLATION_HIGH = 1.5, 2.5  # fake flows multiply what the POS shows


@dataclass(frozen=True)
class Flows:
    revenue_monthly_true_cny: FloatArray  # mean of the true 12-month path; 0 without revenue
    revenue_cv_true: FloatArray  # coefficient of variation of the true path; 0 without revenue
    filing_months: IntArray
    packaged: BoolArray


def draw_packaged(seed: int, people: Population, shift: Shift) -> BoolArray:
    """About `packaged_share` of all applicants, all among businesses, more often the weaker ones."""
    rng = stream(seed, "packaging")
    business_share = float(people.is_business.mean()) if people.n else 0.0
    if business_share == 0.0:
        return np.zeros(people.n, dtype=np.bool_)
    weakness = 2.0 * sigmoid(-0.8 * people.z)  # mean ≈ 1, so the overall share stays near target
    chance = np.clip(shift.packaged_share / business_share * weakness, 0.0, 1.0)
    packaged: BoolArray = (rng.random(people.n) < chance) & people.is_business
    return packaged


def draw_flows(seed: int, people: Population, packaged: BoolArray, shift: Shift) -> tuple[Flows, Columns]:
    rng = stream(seed, "revenue")
    monthly_true = _true_monthly_paths(rng, people, shift)
    has_revenue, is_business = people.has_revenue, people.is_business
    pos_coverage = rng.uniform(0.65, 0.95, size=people.n)  # the rest is cash or other channels
    inflation = np.where(packaged, rng.uniform(POS_INFLATION_LOW, POS_INFLATION_HIGH, size=people.n), 1.0)
    pos = np.rint(monthly_true * (pos_coverage * inflation)[:, None])
    mean_true = monthly_true.mean(axis=1)
    cv_true = np.divide(monthly_true.std(axis=1), mean_true, out=np.zeros(people.n), where=mean_true > 0)
    pos_mean = pos.mean(axis=1)
    pos_cv = np.divide(pos.std(axis=1), pos_mean, out=np.zeros(people.n), where=pos_mean > 0)
    columns: Columns = {name: money_column(name, pos[:, k], has_revenue) for k, name in enumerate(REVENUE_COLUMNS)}
    columns["revenue_mean_12m_minor"] = money_column("revenue_mean_12m_minor", pos_mean, has_revenue)
    columns["revenue_volatility"] = float_column("revenue_volatility", pos_cv, has_revenue)
    filing_months, official = _official_records(rng, people, monthly_true.sum(axis=1))
    columns.update({name: series for name, series in official.items()})
    assert np.all(mean_true[~has_revenue] == 0.0) and np.all(pos[has_revenue] >= 0)
    assert not np.any(packaged & ~is_business)
    return Flows(mean_true, cv_true, filing_months, packaged), columns


def _true_monthly_paths(rng: np.random.Generator, people: Population, shift: Shift) -> FloatArray:
    """(n, 12) true monthly revenue in CNY: level × seasonality × trend × noise; zeros without revenue.

    Column k (0-based) is the (12 - k)-th full calendar month before the application month.
    """
    n, z, segment = people.n, people.z, people.segment_code
    level_log = SEGMENT_REVENUE_LOG_CNY[segment] + REGION_LEVEL_LOG[people.region_code] + 0.30 * z
    level = np.exp(level_log + 0.55 * rng.standard_normal(n)) * shift.revenue_scale
    calendar_month = (people.applied_month0[:, None] + np.arange(1, MONTHS + 1) - 13) % 12
    season = SEASONALITY[segment[:, None], calendar_month]
    # Growing businesses are the better ones: the monthly log-growth rate is tied to z.
    growth_monthly = 0.010 * z + 0.008 * rng.standard_normal(n)
    trend = np.exp(growth_monthly[:, None] * (np.arange(MONTHS) - (MONTHS - 1) / 2))
    sigma = (SEGMENT_REVENUE_NOISE[segment] * np.exp(-0.25 * z))[:, None]  # weaker borrowers are bumpier
    noise = lognormal_unit_mean(rng, sigma, (n, MONTHS))
    paths: FloatArray = (level * people.has_revenue)[:, None] * season * trend * noise
    return paths


def _official_records(
    rng: np.random.Generator, people: Population, annual_true_cny: FloatArray
) -> tuple[IntArray, Columns]:
    """Tax filings, VAT invoices and supply-chain orders: businesses only, never inflated by packaging."""
    n, business = people.n, people.is_business
    business_age_months = np.rint(np.exp(np.log(48.0) + 0.2 * people.z + 0.8 * rng.standard_normal(n)))
    filing_months = np.clip(business_age_months, 1, FILING_MONTHS_MAX).astype(np.int64)
    # Honest businesses under-report a little (a 0.8-1.0 share of revenue reaches the tax base).
    tax_base = annual_true_cny * rng.uniform(0.8, 1.0, size=n)
    tax_paid = tax_base * TAX_RATE_EFFECTIVE * lognormal_unit_mean(rng, 0.1, n)
    segment = people.segment_code
    invoiced = annual_true_cny * SEGMENT_INVOICE_COVERAGE[segment] * lognormal_unit_mean(rng, 0.15, n)
    invoice_count = rng.poisson(invoiced / SEGMENT_INVOICE_SIZE_CNY[segment])
    orders = rng.poisson(0.6 * annual_true_cny / SEGMENT_ORDER_SIZE_CNY[segment])
    columns = {
        "annual_tax_paid_minor": money_column("annual_tax_paid_minor", tax_paid, business),
        "tax_filing_months": int_column("tax_filing_months", filing_months, business),
        "invoice_revenue_12m_minor": money_column("invoice_revenue_12m_minor", invoiced, business),
        "invoice_count_12m": int_column("invoice_count_12m", invoice_count, business),
        "orders_12m": int_column("orders_12m", orders, business),
    }
    return filing_months, columns
