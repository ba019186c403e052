"""The one-at-a-time reference schedule builder. The batch path must match it to the minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import TypeVar

from lendstack.invariants import InvariantError, check
from lendstack.money import (
    DayCount,
    MoneyError,
    RoundingMode,
    currency_of,
    parse_rate,
    rate_to_ppm,
    round_to_minor,
)
from lendstack.money.daycount import day_count_days
from lendstack.money.money import check_amount_minor
from lendstack.schedule.dates import check_due_day, due_dates, is_broken_first_period, step_date
from lendstack.schedule.exact import annuity_payment_minor, round_ratio
from lendstack.schedule.methods import Frequency, ScheduleMethod

TERM_MAX = 600  # 50 years of months: the longest mortgage we book
_DECIMAL_PRECISION = 40  # amount (13 digits) × rate (8 digits) / days leaves ample guard digits


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    seq: int  # 1-based
    due_date: date
    period_start: date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    total_minor: int
    remaining_principal_minor: int  # after this installment is paid

    def __post_init__(self) -> None:
        if not (self.seq >= 1 and self.period_start < self.due_date):
            raise InvariantError(self)
        if min(self.principal_minor, self.interest_minor, self.fee_minor) < 0:
            raise InvariantError(self)
        if self.total_minor != self.principal_minor + self.interest_minor + self.fee_minor:
            raise InvariantError(self)
        if self.remaining_principal_minor < 0:
            raise InvariantError(self)


@dataclass(frozen=True, slots=True)
class Schedule:
    amount_minor: int
    currency: str
    method: ScheduleMethod
    frequency: Frequency
    rate_annual: Decimal
    lines: tuple[ScheduleLine, ...]
    term: int = 0  # periods; 0 means one period per line (a bullet has one line over `term` periods)
    # The end of the first period: lines[0].due_date, except for a bullet over several periods,
    # whose one installment falls term − 1 periods after it. None means the regular date.
    first_due_date: date | None = None

    def __post_init__(self) -> None:
        if self.term == 0:
            object.__setattr__(self, "term", len(self.lines))
        if self.first_due_date is None:
            object.__setattr__(self, "first_due_date", _regular_first_due_date(self))
        _assert_schedule_invariant(self)

    @property
    def total_principal_minor(self) -> int:
        return sum(line.principal_minor for line in self.lines)

    @property
    def total_interest_minor(self) -> int:
        return sum(line.interest_minor for line in self.lines)

    @property
    def total_fee_minor(self) -> int:
        return sum(line.fee_minor for line in self.lines)

    @property
    def total_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    @property
    def maturity_date(self) -> date:
        return self.lines[-1].due_date


def _regular_first_due_date(schedule: Schedule) -> date:
    check(bool(schedule.lines), "a schedule has at least one installment")
    first = schedule.lines[0]
    if schedule.term == len(schedule.lines):
        return first.due_date
    return step_date(first.period_start, 1, schedule.frequency)


def _assert_schedule_invariant(schedule: Schedule) -> None:
    """Principal parts sum to the amount, remaining falls to 0, dates move forward."""
    lines = schedule.lines
    check(bool(lines), "a schedule has at least one installment")
    first_due = schedule.first_due_date
    if first_due is None or not lines[0].period_start < first_due <= lines[0].due_date:
        raise InvariantError(schedule)
    if not (first_due == lines[0].due_date or schedule.term > len(lines)):
        raise InvariantError(schedule)
    check(schedule.total_principal_minor == schedule.amount_minor, "principal parts must sum to amount")
    remaining = schedule.amount_minor
    for seq, line in enumerate(lines, start=1):
        remaining -= line.principal_minor
        if not (line.seq == seq and line.remaining_principal_minor == remaining):
            raise InvariantError(line)
        if not (seq == 1 or line.period_start == lines[seq - 2].due_date):
            raise InvariantError(line)
    check(remaining == 0, "the remaining principal falls to 0")
    check(schedule.method is ScheduleMethod.BULLET or schedule.term == len(lines), "a line per period, but a bullet")


@dataclass(frozen=True, slots=True)
class _Terms:
    """Validated arguments of build_schedule."""

    amount_minor: int
    rate_annual: Decimal
    term: int
    method: ScheduleMethod
    start: date
    currency: str
    frequency: Frequency
    day_count: DayCount
    rounding: RoundingMode
    first_due_date: date | None
    fee_per_period_minor: int
    due_day: int | None


def build_schedule(
    *,
    amount_minor: int,
    rate_annual: Decimal | str,
    term: int,
    method: ScheduleMethod | str,
    start: date,
    currency: str = "CNY",
    frequency: Frequency | str = Frequency.MONTHLY,
    day_count: DayCount | str = DayCount.ACT_365F,
    rounding: RoundingMode | str = RoundingMode.HALF_UP,
    first_due_date: date | None = None,
    fee_per_period_minor: int = 0,
    due_day: int | None = None,
) -> Schedule:
    """The repayment schedule of one loan; every bad argument raises MoneyError naming it.

    `due_day` is the contract's day of month (1..31): monthly dates computed by stepping (all of
    them, or those after first_due_date) fall on min(due_day, days in the month), so a schedule
    rebuilt from Feb 28 of a loan due on the 31st goes on with Mar 31, Apr 30. None keeps the
    day of the date stepped from (start, or first_due_date). Weekly and bi-weekly ignore it.
    """
    terms = _Terms(
        amount_minor=check_amount_minor(amount_minor, "amount_minor"),
        rate_annual=parse_rate(rate_annual, "rate_annual"),
        term=check_term(term),
        method=coerce_enum(ScheduleMethod, method, "method"),
        start=check_date(start, "start"),
        currency=currency_of(currency).code,
        frequency=coerce_enum(Frequency, frequency, "frequency"),
        day_count=coerce_enum(DayCount, day_count, "day_count"),
        rounding=coerce_enum(RoundingMode, rounding, "rounding"),
        first_due_date=first_due_date,
        fee_per_period_minor=check_fee_minor(fee_per_period_minor),
        due_day=None if due_day is None else check_due_day(due_day),
    )
    _check_first_due_date(terms.start, terms.frequency, first_due_date)
    dates = due_dates(terms.start, terms.term, terms.frequency, terms.first_due_date, due_day=terms.due_day)
    lines = _bullet_lines(terms, dates) if terms.method is ScheduleMethod.BULLET else _periodic_lines(terms, dates)
    return Schedule(
        amount_minor=terms.amount_minor,
        currency=terms.currency,
        method=terms.method,
        frequency=terms.frequency,
        rate_annual=terms.rate_annual,
        lines=tuple(lines),
        term=terms.term,
        first_due_date=dates[0],
    )


# --- validation -------------------------------------------------------------------------------

E = TypeVar("E", bound=StrEnum)


def coerce_enum(kind: type[E], value: object, field: str) -> E:
    """An enum member from itself or its value string; a clear error listing the choices."""
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    choices = ", ".join(member.value for member in kind)
    raise MoneyError(field, f"unknown value {value!r}; choose one of: {choices}")


def check_term(term: object, field: str = "term") -> int:
    if isinstance(term, bool) or not isinstance(term, int):
        raise MoneyError(field, f"must be an integer number of periods, got {term!r}")
    if not 1 <= term <= TERM_MAX:
        raise MoneyError(field, f"must be between 1 and {TERM_MAX} periods, got {term}")
    return term


def check_date(value: object, field: str) -> date:
    # datetime is a date subclass; a time of day on a due date is a bug in the caller.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise MoneyError(field, f"must be a date, got {value!r}")
    return value


def check_fee_minor(fee_minor: object, field: str = "fee_per_period_minor") -> int:
    value = check_amount_minor(fee_minor, field, positive=False)
    if value < 0:
        raise MoneyError(field, f"must not be negative, got {value}")
    return value


def _check_first_due_date(start: date, frequency: Frequency, first_due_date: date | None) -> None:
    if first_due_date is None:
        return
    check_date(first_due_date, "first_due_date")
    second_regular = step_date(start, 2, frequency)
    if not start < first_due_date < second_regular:
        raise MoneyError(
            "first_due_date",
            f"must be after the start {start} and before the second regular due date {second_regular}",
        )


# --- interest ---------------------------------------------------------------------------------


def regular_interest_minor(
    remaining_minor: int, rate_annual: Decimal, periods_per_year: int, rounding: RoundingMode
) -> int:
    """Interest of a regular period: remaining × rate_annual / periods_per_year, rounded once.

    Chinese banks' monthly rate is the annual rate / 12 (not a day count), hence no dates here.
    """
    with localcontext() as ctx:
        ctx.prec = _DECIMAL_PRECISION
        return round_to_minor(Decimal(remaining_minor) * rate_annual / periods_per_year, rounding)


def _broken_interest(terms: _Terms, remaining_minor: int, periods: int) -> Decimal:
    """Unrounded interest of a broken first period (by day count) plus `periods - 1` regular ones."""
    if terms.first_due_date is None:
        raise InvariantError("a broken first period has a first due date")
    days = day_count_days(terms.start, terms.first_due_date, terms.day_count)
    first = Decimal(remaining_minor) * terms.rate_annual * days / terms.day_count.year_days
    regular = Decimal(remaining_minor) * terms.rate_annual * (periods - 1) / terms.frequency.periods_per_year
    return first + regular


def _interest_minor(terms: _Terms, seq: int, remaining_minor: int) -> int:
    ppy = terms.frequency.periods_per_year
    if seq == 1 and is_broken_first_period(terms.start, terms.frequency, terms.first_due_date):
        with localcontext() as ctx:
            ctx.prec = _DECIMAL_PRECISION
            return round_to_minor(_broken_interest(terms, remaining_minor, 1), terms.rounding)
    return regular_interest_minor(remaining_minor, terms.rate_annual, ppy, terms.rounding)


# --- lines ------------------------------------------------------------------------------------


def principal_due_minor(
    method: ScheduleMethod, *, is_last: bool, remaining_minor: int, interest_minor: int, payment_minor: int
) -> int:
    """One period's principal. `payment_minor` is the annuity payment (equal installment) or the
    even part round(P / n) (equal principal, and equal installment at a zero rate); the last
    installment takes whatever remains, absorbing all rounding.

    The even part is rounded with the product's mode, not floored, because that is what banks
    print (1,000,000 over 360 months: 2,777.78 a month, not 2,777.77). It can only overshoot
    when P < n·(n − 1) minor units (a few yuan over hundreds of periods); the clamp to what
    remains keeps every part ≥ 0 then, at the cost of front-loading that tiny loan.
    """
    if is_last:
        return remaining_minor
    if method is ScheduleMethod.INTEREST_ONLY:
        return 0
    if method is ScheduleMethod.EQUAL_INSTALLMENT:
        # Clamped: with an extreme rate and a tiny amount the rounded payment can be below the
        # rounded interest, or above what remains; parts must stay within [0, remaining].
        return min(max(payment_minor - interest_minor, 0), remaining_minor)
    return min(payment_minor, remaining_minor)


def level_payment_minor(
    method: ScheduleMethod,
    amount_minor: int,
    rate_ppm: int,
    periods_per_year: int,
    term: int,
    rounding: RoundingMode,
) -> int:
    """The per-period amount principal_due_minor works from (see there)."""
    if method is ScheduleMethod.EQUAL_INSTALLMENT and rate_ppm > 0:
        return annuity_payment_minor(amount_minor, rate_ppm, periods_per_year, term, rounding)
    return round_ratio(amount_minor, term, rounding)


def _periodic_lines(terms: _Terms, dates: list[date]) -> list[ScheduleLine]:
    check(len(dates) == terms.term, "one due date per period")
    payment = level_payment_minor(
        terms.method,
        terms.amount_minor,
        rate_to_ppm(terms.rate_annual),
        terms.frequency.periods_per_year,
        terms.term,
        terms.rounding,
    )
    lines: list[ScheduleLine] = []
    remaining, period_start = terms.amount_minor, terms.start
    for seq, due in enumerate(dates, start=1):
        interest = _interest_minor(terms, seq, remaining)
        principal = principal_due_minor(
            terms.method,
            is_last=seq == terms.term,
            remaining_minor=remaining,
            interest_minor=interest,
            payment_minor=payment,
        )
        remaining -= principal
        lines.append(
            _line(seq, due, period_start, principal, interest, terms.fee_per_period_minor, remaining)
        )
        period_start = due
    return lines


def _bullet_lines(terms: _Terms, dates: list[date]) -> list[ScheduleLine]:
    """One installment at maturity carrying all `term` periods of simple interest, rounded once."""
    check(len(dates) == terms.term, "one due date per period")
    maturity = dates[-1]
    if is_broken_first_period(terms.start, terms.frequency, terms.first_due_date):
        with localcontext() as ctx:
            ctx.prec = _DECIMAL_PRECISION
            interest = round_to_minor(_broken_interest(terms, terms.amount_minor, terms.term), terms.rounding)
    else:
        interest = bullet_interest_minor(
            terms.amount_minor, terms.rate_annual, terms.frequency, terms.term, terms.rounding
        )
    fee = terms.fee_per_period_minor * terms.term  # the periodic fee accrues like the interest
    return [_line(1, maturity, terms.start, terms.amount_minor, interest, fee, 0)]


def bullet_interest_minor(
    amount_minor: int, rate_annual: Decimal, frequency: Frequency, term: int, rounding: RoundingMode
) -> int:
    with localcontext() as ctx:
        ctx.prec = _DECIMAL_PRECISION
        value = Decimal(amount_minor) * rate_annual * term / frequency.periods_per_year
        return round_to_minor(value, rounding)


def _line(
    seq: int, due: date, period_start: date, principal: int, interest: int, fee: int, remaining: int
) -> ScheduleLine:
    return ScheduleLine(
        seq=seq,
        due_date=due,
        period_start=period_start,
        principal_minor=principal,
        interest_minor=interest,
        fee_minor=fee,
        total_minor=principal + interest + fee,
        remaining_principal_minor=remaining,
    )
