"""Money in integer minor units, rates, rounding, day counts, IRR/APR and legal rate caps.

This package is a leaf: it imports nothing else from lendstack.
"""

from lendstack.money.currency import CURRENCIES, Currency, currency_of
from lendstack.money.daycount import DayCount, year_fraction
from lendstack.money.errors import MoneyError, RateCapExceeded
from lendstack.money.irr import PeriodTime, apr_by_irr, irr_periodic
from lendstack.money.money import Money
from lendstack.money.rates import (
    RATE_DECIMAL_PLACES,
    RoundingMode,
    check_rate_cap,
    div_round,
    parse_rate,
    rate_to_ppm,
    round_to_minor,
)

__all__ = [
    "CURRENCIES",
    "RATE_DECIMAL_PLACES",
    "Currency",
    "DayCount",
    "Money",
    "MoneyError",
    "PeriodTime",
    "RateCapExceeded",
    "RoundingMode",
    "apr_by_irr",
    "check_rate_cap",
    "currency_of",
    "div_round",
    "irr_periodic",
    "parse_rate",
    "rate_to_ppm",
    "round_to_minor",
    "year_fraction",
]
