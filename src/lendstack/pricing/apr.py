"""The APR check of an offer through the product's own schedule builder (IRR method, fees included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lendstack.products import LoanProduct
from lendstack.schedule import build_schedule


@dataclass(frozen=True)
class ScheduleSummary:
    installments: int
    first_due_on: str
    first_installment_minor: int
    total_interest_minor: int
    total_fee_minor: int
    total_repayable_minor: int
    apr: Decimal


def apr_check(product: LoanProduct, amount_minor: int, term: int, rate_annual: Decimal, start: date) -> ScheduleSummary:
    """Build the offer's schedule; raises RateCapExceeded (field rate_annual) above the legal APR cap."""
    # product.build_schedule would compute the APR (an IRR, ~0.5 ms) only to check it and throw it away;
    # build with the product's terms here and compute it once.
    rate = product.validate_request(amount_minor, term, rate_annual)
    schedule = build_schedule(
        amount_minor=amount_minor, rate_annual=rate, term=term, method=product.schedule_method, start=start,
        currency=product.currency, frequency=product.frequency, day_count=product.day_count,
        rounding=product.rounding, fee_per_period_minor=product.periodic_fee_minor(amount_minor),
    )
    apr = product.check_apr(schedule)
    first = schedule.lines[0]
    return ScheduleSummary(
        installments=len(schedule.lines), first_due_on=first.due_date.isoformat(),
        first_installment_minor=first.total_minor, total_interest_minor=schedule.total_interest_minor,
        total_fee_minor=schedule.total_fee_minor + product.upfront_fee_minor(amount_minor),
        total_repayable_minor=schedule.total_minor, apr=apr,
    )
