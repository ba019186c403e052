"""Bureau-like data (征信): income, debt-to-income, inquiries, multi-borrowing, delinquencies, score.

The true values feed the default hazard for everyone; thin-file applicants (no bureau record) get
explicit nulls in the frame, but their hazard still depends on the values nobody observed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lendstack.sim.columns import Columns, float_column, int_column, money_column
from lendstack.sim.draws import BoolArray, IntArray, stream
from lendstack.sim.population import Population
from lendstack.sim.shift import Shift
from lendstack.sim.tables import INDIVIDUAL, REGION_LEVEL_LOG, SEGMENT_INCOME_LOG_CNY, FloatArray

THIN_FILE_BASE = 0.05
THIN_FILE_YOUNG = 0.12  # extra chance under 25: too young to have a credit history
THIN_FILE_INDIVIDUAL = 0.04
DTI_MAX = 4.0
BUREAU_SCORE_MIN, BUREAU_SCORE_MAX = 300, 950


@dataclass(frozen=True)
class Bureau:
    income_monthly_cny: FloatArray
    debt_to_income: FloatArray
    inquiries_6m: IntArray
    open_loans_elsewhere: IntArray
    past_delinquencies_24m: IntArray
    thin_file: BoolArray


def draw_bureau(seed: int, people: Population, shift: Shift) -> tuple[Bureau, Columns]:
    rng = stream(seed, "bureau")
    n, z = people.n, people.z
    thin_p = (
        THIN_FILE_BASE
        + THIN_FILE_YOUNG * (people.age_years < 25)
        + THIN_FILE_INDIVIDUAL * (people.type_code == INDIVIDUAL)
    )
    thin_file = rng.random(n) < thin_p
    age_gap = people.age_years - 42.0
    log_income = (
        SEGMENT_INCOME_LOG_CNY[people.segment_code]
        + REGION_LEVEL_LOG[people.region_code]
        + 0.22 * z
        - 0.0004 * age_gap**2  # incomes peak in the early forties
        + 0.45 * rng.standard_normal(n)
    )
    income = np.exp(log_income) * shift.income_scale
    dti = np.clip(np.exp(np.log(0.30) - 0.30 * z + 0.45 * rng.standard_normal(n)), 0.0, DTI_MAX)
    inquiries = rng.poisson(np.maximum(np.exp(0.5 - 0.45 * z) + shift.inquiries_add, 0.0))
    open_loans = rng.poisson(np.maximum(np.exp(0.4 - 0.55 * z) + shift.open_loans_add, 0.0))
    delinquencies = rng.poisson(np.exp(-1.7 - 0.9 * z))
    score = np.clip(np.rint(650 + 70 * (0.75 * z + 0.66 * rng.standard_normal(n))), BUREAU_SCORE_MIN, BUREAU_SCORE_MAX)
    history_months = np.rint((people.age_years - 18) * 12 * rng.beta(2.0, 2.0, size=n)) + 1
    bureau = Bureau(income, dti, inquiries, open_loans, delinquencies, thin_file)
    seen = ~thin_file
    columns = {
        "monthly_income_minor": money_column("monthly_income_minor", np.round(income, 0), seen),
        "debt_to_income": float_column("debt_to_income", dti, seen),
        "inquiries_6m": int_column("inquiries_6m", inquiries, seen),
        "open_loans_elsewhere": int_column("open_loans_elsewhere", open_loans, seen),
        "past_delinquencies_24m": int_column("past_delinquencies_24m", delinquencies, seen),
        "bureau_score": int_column("bureau_score", score, seen),
        "months_since_oldest_account": int_column("months_since_oldest_account", history_months, seen),
    }
    return bureau, columns
