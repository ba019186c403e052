"""Outcomes: the true PD from a hazard, default within 12 months, its timing, recovery and EAD.

The hazard's log-odds combine the latent creditworthiness with observables in the non-linear ways a
risk team sees in practice (a DTI hinge, a multi-borrowing threshold, revenue volatility above a
tolerance), packaged data and rings, and a macro `shock` that hurts cyclical segments most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lendstack.sim.bureau import Bureau
from lendstack.sim.columns import Columns, float_column, int_column, money_column
from lendstack.sim.declared import PROPERTY, Declared
from lendstack.sim.draws import BoolArray, IntArray, categorical, sigmoid, stream
from lendstack.sim.flows import Flows
from lendstack.sim.population import Population
from lendstack.sim.signals import Telematics
from lendstack.sim.tables import (
    COLLATERAL_RECOVERY_MEAN,
    RECOVERY_CONCENTRATION,
    REGION_RISK_LOGIT,
    SEGMENT_RISK_LOGIT,
    SEGMENT_SHOCK_SENSITIVITY,
    FloatArray,
)

INTERCEPT_LOGIT = -4.0  # tuned so the baseline default rate sits near 8 %
SHOCK_LOGIT = 1.1  # shock = 1 adds about 1.1 to the log-odds of a segment of average sensitivity
PD_FLOOR, PD_CEILING = 1e-4, 0.995
LAST_ONSET_MONTH = 9  # missing from month 9 on still reaches 90+ DPD by month 12
# When defaulters stop paying (months 1..9): ordinary ones spread out, fraud stops at once (first payment default).
ONSET_WEIGHTS = np.array([0.07, 0.10, 0.12, 0.13, 0.13, 0.12, 0.12, 0.11, 0.10])
FRAUD_ONSET_WEIGHTS = np.array([0.60, 0.25, 0.10, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0])
ACCRUED_INTEREST_SHARE = 0.045  # about three months of unpaid interest on top of principal at default


@dataclass(frozen=True)
class Drivers:
    """Everything the hazard reads, gathered so `log_odds` stays a pure function of arrays."""

    people: Population
    bureau: Bureau
    flows: Flows
    declared: Declared
    telematics: Telematics


def log_odds(d: Drivers, shock: float) -> FloatArray:
    people, bureau = d.people, d.bureau
    dti, loans = bureau.debt_to_income, bureau.open_loans_elsewhere
    business_young = people.is_business & (d.flows.filing_months < 12)
    result: FloatArray = (
        INTERCEPT_LOGIT
        - 0.95 * people.z
        + REGION_RISK_LOGIT[people.region_code]
        + SEGMENT_RISK_LOGIT[people.segment_code]
        + 0.3 * dti
        + 1.4 * np.maximum(dti - 0.6, 0.0)  # repayments eat the income beyond ~60 % DTI
        + 0.30 * np.log1p(loans)
        + 0.5 * (loans >= 5)  # 多头借贷: five or more lenders is a known cliff
        + 0.06 * bureau.inquiries_6m
        + 0.35 * np.minimum(bureau.past_delinquencies_24m, 3)
        + 2.0 * np.maximum(d.flows.revenue_cv_true - 0.30, 0.0)
        + 1.1 * d.flows.packaged
        + 2.2 * people.rings.in_ring
        + 0.0008 * (people.age_years - 42.0) ** 2
        + 0.35 * business_young
        + 1.0 * np.maximum(d.telematics.night_driving_share - 0.35, 0.0)
        + 0.5 * (d.telematics.mileage_ratio < 0.5)
        + 0.10 * np.log(d.declared.term_months / 12.0)
        - 0.2 * (d.declared.collateral_code == PROPERTY)
        + SHOCK_LOGIT * shock * SEGMENT_SHOCK_SENSITIVITY[people.segment_code]
    )
    return result


def draw_outcomes(seed: int, drivers: Drivers, shock: float) -> Columns:
    rng = stream(seed, "outcome")
    people, declared = drivers.people, drivers.declared
    pd_true = np.clip(sigmoid(log_odds(drivers, shock)), PD_FLOOR, PD_CEILING)
    default = rng.random(people.n) < pd_true
    fraud = people.rings.in_ring | drivers.flows.packaged
    onset = _onset_month(rng, fraud)
    recovery = _recovery_rate(rng, declared.collateral_code, people.z)
    ead_cny = _exposure_at_default(declared, onset, default)
    assert np.all((pd_true > 0) & (pd_true < 1)), "pd_true must lie strictly inside (0, 1)"
    assert np.all((recovery >= 0) & (recovery <= 1)), "recovery_rate must lie in [0, 1]"
    return {
        "pd_true": float_column("pd_true", pd_true, decimals=6),
        "default_12m": int_column("default_12m", default),
        "months_to_default": int_column("months_to_default", onset, default),
        "recovery_rate": float_column("recovery_rate", recovery, default),
        "ead_minor": money_column("ead_minor", ead_cny),
    }


def _onset_month(rng: np.random.Generator, fraud: BoolArray) -> IntArray:
    ordinary = categorical(rng, ONSET_WEIGHTS / ONSET_WEIGHTS.sum(), n=len(fraud))
    first_payment = categorical(rng, FRAUD_ONSET_WEIGHTS / FRAUD_ONSET_WEIGHTS.sum(), n=len(fraud))
    months: IntArray = np.where(fraud, first_payment, ordinary) + 1
    return months


def _recovery_rate(rng: np.random.Generator, collateral_code: IntArray, z: FloatArray) -> FloatArray:
    """Beta-distributed recovery; the mean comes from the collateral, nudged up for stronger borrowers."""
    mean = np.clip(COLLATERAL_RECOVERY_MEAN[collateral_code] + 0.04 * np.tanh(z), 0.03, 0.95)
    recovery: FloatArray = rng.beta(mean * RECOVERY_CONCENTRATION, (1 - mean) * RECOVERY_CONCENTRATION)
    return recovery


def _exposure_at_default(declared: Declared, onset: IntArray, default: BoolArray) -> FloatArray:
    """Outstanding principal when payments stop (straight-line amortisation), plus accrued interest.

    For loans that do not default, EAD is the full commitment: the exposure if they did.
    """
    paid_installments = np.minimum(onset - 1, declared.term_months - 1)  # the last installment stays owed
    outstanding_share = 1.0 - paid_installments / declared.term_months
    at_default = declared.requested_amount_cny * outstanding_share * (1.0 + ACCRUED_INTEREST_SHARE)
    ead: FloatArray = np.where(default, at_default, declared.requested_amount_cny)
    return ead
