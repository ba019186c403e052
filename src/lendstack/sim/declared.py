"""What the applicant declares: revenue, requested amount and term, purpose, collateral."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lendstack.sim.bureau import Bureau
from lendstack.sim.columns import Columns, int_column, label_column, money_column
from lendstack.sim.draws import BoolArray, IntArray, categorical, categorical_rows, stream
from lendstack.sim.flows import Flows
from lendstack.sim.population import Population
from lendstack.sim.tables import (
    COLLATERAL_MIX_BY_SEGMENT,
    COLLATERALS,
    PURPOSE_MIX_BY_SEGMENT,
    PURPOSES,
    TERM_MIX_BY_TYPE,
    TERMS_MONTHS,
    VEHICLE_SEGMENTS,
    FloatArray,
)

AMOUNT_MIN_CNY, AMOUNT_MAX_CNY = 1_000.0, 3_000_000.0
AMOUNT_STEP_CNY = 100.0  # people ask for round sums
DECLARED_STEP_CNY = 100.0
PACKAGED_INFLATION_LOW, PACKAGED_INFLATION_HIGH = 1.6, 3.0
PROPERTY = COLLATERALS.index("property")
VEHICLE = COLLATERALS.index("vehicle")


@dataclass(frozen=True)
class Declared:
    requested_amount_cny: FloatArray
    term_months: IntArray
    collateral_code: IntArray
    vehicle_backed: BoolArray


def draw_declared(seed: int, people: Population, bureau: Bureau, flows: Flows) -> tuple[Declared, Columns]:
    rng = stream(seed, "declared")
    n = people.n
    # Honest applicants round up a little; packaged ones claim 1.6-3x their true revenue.
    optimism = np.exp(0.05 + 0.12 * rng.standard_normal(n))
    inflation = np.where(flows.packaged, rng.uniform(PACKAGED_INFLATION_LOW, PACKAGED_INFLATION_HIGH, n), 1.0)
    declared_cny = _round_to(flows.revenue_monthly_true_cny * optimism * inflation, DECLARED_STEP_CNY)
    # Businesses ask for about 1.5 months of (declared) revenue, individuals for a few months of income.
    business_ask = declared_cny * np.exp(np.log(1.5) + 0.5 * rng.standard_normal(n))
    personal_ask = bureau.income_monthly_cny * rng.uniform(2.0, 10.0, n)
    ask = np.where(people.is_business, business_ask, personal_ask)
    requested_cny = np.clip(_round_to(ask, AMOUNT_STEP_CNY), AMOUNT_MIN_CNY, AMOUNT_MAX_CNY)
    term_code = categorical(rng, TERM_MIX_BY_TYPE, people.type_code)
    purpose_code = categorical(rng, PURPOSE_MIX_BY_SEGMENT, people.segment_code)
    collateral_code = _collateral(rng, people)
    vehicle_backed = (collateral_code == VEHICLE) & np.isin(people.segment_code, VEHICLE_SEGMENTS)
    terms = np.array(TERMS_MONTHS)[term_code]
    columns = {
        "declared_monthly_revenue_minor": money_column(
            "declared_monthly_revenue_minor", declared_cny, people.has_revenue
        ),
        "requested_amount_minor": money_column("requested_amount_minor", requested_cny),
        "requested_term_months": int_column("requested_term_months", terms),
        "purpose": label_column("purpose", purpose_code, PURPOSES),
        "collateral": label_column("collateral", collateral_code, COLLATERALS),
    }
    return Declared(requested_cny, terms, collateral_code, vehicle_backed), columns


def _collateral(rng: np.random.Generator, people: Population) -> IntArray:
    """Collateral by segment; property is likelier for stronger applicants (they own homes)."""
    probs = COLLATERAL_MIX_BY_SEGMENT[people.segment_code].copy()
    probs[:, PROPERTY] *= np.exp(0.5 * people.z)
    return categorical_rows(rng, probs)


def _round_to(amounts: FloatArray, step: float) -> FloatArray:
    rounded: FloatArray = np.rint(amounts / step) * step
    return rounded
