"""The fixed parameters of the synthetic economy: categories, mixes, levels, seasonality.

Every table is indexed by the position of a label in its tuple, so the generator can look rows up
with NumPy fancy indexing instead of Python loops.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# The categories are the application schema's closed lists (declared once there); the tables below are
# indexed by their order.
from lendstack.origination.schema import APPLICANT_TYPES as APPLICANT_TYPES
from lendstack.origination.schema import COLLATERALS as COLLATERALS
from lendstack.origination.schema import REGIONS as REGIONS
from lendstack.origination.schema import SEGMENTS as SEGMENTS

FloatArray = npt.NDArray[np.float64]

APPLICANT_TYPE_WEIGHTS = (0.45, 0.20, 0.35)
INDIVIDUAL = 0

SALARIED = SEGMENTS.index("salaried")
VEHICLE_SEGMENTS = (SEGMENTS.index("logistics"), SEGMENTS.index("ride_hailing"))

# Segment mix per applicant type (rows follow APPLICANT_TYPES, columns follow SEGMENTS).
# Individuals are mostly salaried; gig drivers and couriers are individuals with platform revenue.
SEGMENT_MIX_BY_TYPE = np.array(
    [
        [0.00, 0.00, 0.00, 0.06, 0.12, 0.00, 0.00, 0.82],
        [0.12, 0.16, 0.08, 0.16, 0.00, 0.28, 0.20, 0.00],
        [0.28, 0.26, 0.18, 0.08, 0.06, 0.04, 0.10, 0.00],
    ]
)

# Monthly revenue level (CNY, log scale) for businesses and gig workers; salaried has none.
SEGMENT_REVENUE_LOG_CNY = np.log(np.array([60e3, 50e3, 30e3, 70e3, 12e3, 150e3, 45e3, 1.0]))
# Owner / worker monthly income level (CNY, log scale).
SEGMENT_INCOME_LOG_CNY = np.log(np.array([9e3, 8e3, 5e3, 9e3, 8e3, 12e3, 9e3, 8.5e3]))
# Month-to-month noise of revenue (lognormal sigma): farming and restaurants are the bumpiest.
SEGMENT_REVENUE_NOISE = np.array([0.16, 0.12, 0.30, 0.14, 0.12, 0.10, 0.18, 0.0])
# Share of sales that shows up on VAT invoices (restaurants and retail sell to consumers, few invoices).
SEGMENT_INVOICE_COVERAGE = np.array([0.25, 0.40, 0.55, 0.80, 0.0, 0.92, 0.60, 0.0])
# Average invoice and purchase-order sizes (CNY) turn annual revenue into counts.
SEGMENT_INVOICE_SIZE_CNY = np.array([800.0, 1500.0, 6000.0, 4000.0, 1.0, 20000.0, 600.0, 1.0])
SEGMENT_ORDER_SIZE_CNY = np.array([3000.0, 5000.0, 12000.0, 8000.0, 1.0, 30000.0, 2500.0, 1.0])
# Log-odds of default added per segment (farming and restaurants are riskier; salaried safest).
SEGMENT_RISK_LOGIT = np.array([0.35, 0.15, 0.30, 0.20, 0.25, 0.05, 0.20, -0.30])
# How much a macro shock hurts each segment (cyclical businesses suffer most).
SEGMENT_SHOCK_SENSITIVITY = np.array([1.3, 1.1, 0.9, 1.2, 1.1, 1.2, 1.0, 0.7])

REGION_WEIGHTS = (0.20, 0.16, 0.14, 0.14, 0.11, 0.07, 0.08, 0.10)
REGION_LEVEL_LOG = np.log(np.array([1.15, 1.10, 1.00, 0.90, 0.85, 0.75, 0.80, 1.45]))
REGION_RISK_LOGIT = np.array([-0.10, -0.05, 0.00, 0.05, 0.10, 0.25, 0.30, -0.15])

GENDERS = ("female", "male")
FEMALE_SHARE = 0.45

# Mean recovery given default per collateral: property > vehicle > receivables > guarantee > none.
COLLATERAL_RECOVERY_MEAN = np.array([0.15, 0.50, 0.65, 0.40, 0.30])
RECOVERY_CONCENTRATION = 8.0  # beta(a, b) with a + b = 8: spread of about ±0.15 around the mean
# Collateral mix per segment (rows follow SEGMENTS, columns follow COLLATERALS).
COLLATERAL_MIX_BY_SEGMENT = np.array(
    [
        [0.60, 0.03, 0.12, 0.05, 0.20],
        [0.55, 0.03, 0.12, 0.12, 0.18],
        [0.55, 0.05, 0.10, 0.05, 0.25],
        [0.20, 0.60, 0.05, 0.10, 0.05],
        [0.20, 0.72, 0.02, 0.00, 0.06],
        [0.35, 0.05, 0.25, 0.25, 0.10],
        [0.50, 0.02, 0.10, 0.25, 0.13],
        [0.70, 0.05, 0.15, 0.00, 0.10],
    ]
)

PURPOSES = (
    "consumption",
    "education",
    "medical",
    "home_improvement",
    "vehicle_purchase",
    "working_capital",
    "inventory",
    "equipment",
    "seasonal_inputs",  # seeds, fertiliser, feed for a production cycle
)
PURPOSE_MIX_BY_SEGMENT = np.array(
    [
        [0.05, 0.00, 0.02, 0.03, 0.00, 0.50, 0.25, 0.15, 0.00],
        [0.05, 0.00, 0.02, 0.03, 0.00, 0.40, 0.45, 0.05, 0.00],
        [0.03, 0.02, 0.03, 0.02, 0.00, 0.15, 0.05, 0.20, 0.50],
        [0.03, 0.00, 0.02, 0.00, 0.30, 0.45, 0.00, 0.20, 0.00],
        [0.10, 0.02, 0.03, 0.00, 0.55, 0.30, 0.00, 0.00, 0.00],
        [0.02, 0.00, 0.01, 0.00, 0.02, 0.45, 0.20, 0.30, 0.00],
        [0.04, 0.00, 0.01, 0.00, 0.00, 0.40, 0.50, 0.05, 0.00],
        [0.45, 0.12, 0.10, 0.18, 0.15, 0.00, 0.00, 0.00, 0.00],
    ]
)

TERMS_MONTHS = (3, 6, 12, 24, 36)
TERM_MIX_BY_TYPE = np.array(
    [
        [0.10, 0.20, 0.40, 0.20, 0.10],
        [0.05, 0.15, 0.45, 0.25, 0.10],
        [0.10, 0.25, 0.45, 0.15, 0.05],
    ]
)


def _normalised(table: FloatArray) -> FloatArray:
    """Scale each row to mean 1, so seasonality moves revenue within the year but not its level."""
    normalised: FloatArray = table / table.mean(axis=1, keepdims=True)
    return normalised


# Seasonality by calendar month (Jan..Dec) per segment. Restaurants peak at the Spring Festival and
# the October golden week; retail at year end (Double 11, New Year); farming at the summer and autumn
# harvests; logistics and e-commerce at 618 and Double 11, with a Spring Festival shutdown.
SEASONALITY = _normalised(
    np.array(
        [
            [1.35, 1.30, 0.85, 0.90, 1.00, 0.95, 1.00, 1.00, 0.95, 1.25, 0.90, 1.10],
            [1.20, 1.15, 0.80, 0.85, 0.90, 0.95, 0.90, 0.90, 0.95, 1.05, 1.30, 1.40],
            [0.40, 0.40, 0.60, 0.70, 0.90, 1.50, 1.00, 0.90, 1.80, 2.00, 1.00, 0.50],
            [0.90, 0.60, 0.95, 1.00, 1.00, 1.10, 0.95, 0.95, 1.00, 1.05, 1.40, 1.30],
            [1.15, 1.10, 0.95, 0.95, 1.00, 0.95, 1.00, 1.00, 0.95, 1.10, 0.95, 1.05],
            [0.95, 0.55, 1.00, 1.05, 1.05, 1.05, 1.00, 1.00, 1.05, 1.00, 1.10, 1.15],
            [0.90, 0.70, 0.85, 0.90, 0.95, 1.45, 0.90, 0.85, 0.90, 0.95, 1.65, 1.20],
            [1.00] * 12,
        ]
    )
)

assert SEGMENT_MIX_BY_TYPE.shape == (len(APPLICANT_TYPES), len(SEGMENTS))
assert COLLATERAL_MIX_BY_SEGMENT.shape == (len(SEGMENTS), len(COLLATERALS))
assert PURPOSE_MIX_BY_SEGMENT.shape == (len(SEGMENTS), len(PURPOSES))
assert TERM_MIX_BY_TYPE.shape == (len(APPLICANT_TYPES), len(TERMS_MONTHS))
for _mix in (SEGMENT_MIX_BY_TYPE, COLLATERAL_MIX_BY_SEGMENT, PURPOSE_MIX_BY_SEGMENT, TERM_MIX_BY_TYPE):
    assert np.allclose(_mix.sum(axis=1), 1.0), _mix
