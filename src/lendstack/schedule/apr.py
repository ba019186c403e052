"""The APR of a schedule by the IRR method (年化利率, as the PBOC's 2021 notice prescribes)."""

from __future__ import annotations

from decimal import Decimal

from lendstack.money import MoneyError, apr_by_irr
from lendstack.schedule.build import Schedule
from lendstack.schedule.methods import ScheduleMethod


def apr_of(schedule: Schedule, upfront_fee_minor: int = 0) -> Decimal:
    """Nominal APR over flows [−(amount − upfront fee), total_1, …, total_n], periodic IRR × periods/yr.

    Periods are treated as equally long: a broken first period counts as one full period. That
    overstates the APR of a short first period and understates a long one by a fraction of a
    period's interest; disclosures that must be exact to the day need an XIRR on dates instead.
    A bullet's single installment is placed `term` periods out, with zero flows in between.
    """
    if isinstance(upfront_fee_minor, bool) or not isinstance(upfront_fee_minor, int):
        raise MoneyError(
            "upfront_fee_minor", f"must be an integer number of minor units, got {upfront_fee_minor!r}"
        )
    if not 0 <= upfront_fee_minor < schedule.amount_minor:
        raise MoneyError(
            "upfront_fee_minor", f"must be in 0..{schedule.amount_minor - 1}, got {upfront_fee_minor}"
        )
    flows = [-(schedule.amount_minor - upfront_fee_minor), *_installment_flows(schedule)]
    return apr_by_irr(flows, schedule.frequency.periods_per_year)


def _installment_flows(schedule: Schedule) -> list[int]:
    if schedule.method is ScheduleMethod.BULLET:
        return [0] * (schedule.term - 1) + [schedule.lines[-1].total_minor]
    return [line.total_minor for line in schedule.lines]
