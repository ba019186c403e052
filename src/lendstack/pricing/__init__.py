"""Risk-based pricing, credit limits and legal caps.

- `quote_rate` / `risk_based_rate`: cost of funds + PD × LGD + operating cost + margin (+ grade
  adjustment), 6 places, clamped to the product's band and legal cap, every component recorded.
- `credit_limit`: cash-flow limit with seasonal uplift, off-season warning, green incentive,
  staged tranches and per-customer / household / segment caps (小额分散).
- `apr_check`: the offer's schedule and APR through the product's builder (refuses above the cap).

Imports only lendstack.products and lendstack.money (enforced by import-linter).
"""

from lendstack.pricing.apr import ScheduleSummary, apr_check
from lendstack.pricing.limits import (
    Exposure,
    LimitInput,
    LimitResult,
    credit_limit,
    credit_limit_batch,
    split_tranches,
    term_factor,
)
from lendstack.pricing.policy import Caps, LimitPolicy, PricingPolicy, Season, TermFactor, Tranche
from lendstack.pricing.rate import (
    RateQuote,
    fixed_units,
    lgd_units,
    pd_units,
    quote_rate,
    rate_band,
    rate_units_batch,
    risk_based_rate,
)

__all__ = [
    "Caps", "Exposure", "LimitInput", "LimitPolicy", "LimitResult", "PricingPolicy", "RateQuote", "ScheduleSummary",
    "Season", "TermFactor", "Tranche", "apr_check", "credit_limit", "credit_limit_batch", "fixed_units",
    "lgd_units", "pd_units", "quote_rate", "rate_band", "rate_units_batch", "risk_based_rate", "split_tranches",
    "term_factor",
]
