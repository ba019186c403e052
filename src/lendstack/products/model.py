"""A loan product as data: frozen pydantic models, unknown keys refused, bands cross-checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lendstack.money import (
    DayCount,
    MoneyError,
    RoundingMode,
    check_rate_cap,
    currency_of,
    parse_rate,
    round_to_minor,
)
from lendstack.money.money import check_amount_minor
from lendstack.schedule import TERM_MAX, Frequency, Schedule, ScheduleMethod, apr_of, build_schedule
from lendstack.text import CleanName


def _rate(value: object, info: ValidationInfo) -> Decimal:
    return parse_rate(value, info.field_name or "rate")


def _positive_minor(value: object, info: ValidationInfo) -> int:
    return check_amount_minor(value, info.field_name or "amount_minor")


def _non_negative_minor(value: object, info: ValidationInfo) -> int:
    field = info.field_name or "amount_minor"
    amount = check_amount_minor(value, field, positive=False)
    if amount < 0:
        raise MoneyError(field, f"must not be negative, got {amount}")
    return amount


# Rates are exact Decimals with ≤ 6 places; floats are refused (the YAML loader reads them as Decimal).
Rate = Annotated[Decimal, BeforeValidator(_rate)]
PositiveMinor = Annotated[int, BeforeValidator(_positive_minor)]
NonNegativeMinor = Annotated[int, BeforeValidator(_non_negative_minor)]
Term = Annotated[int, Field(strict=True, ge=1, le=TERM_MAX)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Component(StrEnum):
    """What a repayment pays off, in the product's allocation order (还款冲销顺序)."""

    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class PrepaymentMode(StrEnum):
    REDUCE_TERM = "reduce_term"  # keep the installment, finish earlier
    REDUCE_INSTALLMENT = "reduce_installment"  # keep the maturity, pay less each period


class Fees(BaseModel):
    model_config = _FROZEN

    upfront_rate: Rate = Decimal(0)  # of the amount, billed with installment 1 (never deducted: 砍头息 is banned)
    upfront_minor: NonNegativeMinor = 0  # a flat amount on top of upfront_rate
    periodic_rate: Rate = Decimal(0)  # per period, of the original principal
    prepayment_rate: Rate = Decimal(0)  # of the principal prepaid


class Penalty(BaseModel):
    """罚息: overdue principal accrues at multiplier × the contract rate."""

    model_config = _FROZEN

    multiplier: Rate = Decimal("1.5")
    accrue_on_interest: bool = False  # 复利: penalty on overdue interest too

    @field_validator("multiplier")
    @classmethod
    def _at_least_contract_rate(cls, value: Decimal) -> Decimal:
        if value < 1:
            raise MoneyError("multiplier", f"must be at least 1 (the contract rate), got {value}")
        return value


class PrepaymentRule(BaseModel):
    model_config = _FROZEN

    allowed: bool = True
    mode: PrepaymentMode = PrepaymentMode.REDUCE_INSTALLMENT
    min_periods_before: Annotated[int, Field(strict=True, ge=0, le=TERM_MAX)] = 0


DEFAULT_ALLOCATION_ORDER = (Component.PENALTY, Component.FEE, Component.INTEREST, Component.PRINCIPAL)


class LoanProduct(BaseModel):
    model_config = _FROZEN

    product_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=64)]
    name_en: Annotated[CleanName, Field(min_length=1, max_length=200)]  # NFC, no hidden characters (lendstack.text)
    name_zh: Annotated[CleanName, Field(min_length=1, max_length=200)]
    currency: str
    amount_min_minor: PositiveMinor
    amount_max_minor: PositiveMinor
    term_min: Term
    term_max: Term
    frequency: Frequency = Frequency.MONTHLY
    schedule_method: ScheduleMethod
    rate_annual: Rate
    rate_min_annual: Rate
    rate_max_annual: Rate
    day_count: DayCount = DayCount.ACT_365F
    rounding: RoundingMode = RoundingMode.HALF_UP
    fees: Fees = Fees()
    penalty: Penalty = Penalty()
    grace_days: Annotated[int, Field(strict=True, ge=0, le=30)] = 0
    allocation_order: tuple[Component, ...] = DEFAULT_ALLOCATION_ORDER
    prepayment: PrepaymentRule = PrepaymentRule()
    rate_cap_apr: Rate = Decimal("0.24")  # legal cap on the APR including fees

    @field_validator("currency", mode="before")
    @classmethod
    def _known_currency(cls, value: object) -> str:
        return currency_of(value).code

    @field_validator("allocation_order")
    @classmethod
    def _permutation(cls, value: tuple[Component, ...]) -> tuple[Component, ...]:
        if len(value) != len(Component) or set(value) != set(Component):
            expected = ", ".join(Component)
            got = ", ".join(value)
            raise MoneyError("allocation_order", f"must list each of {expected} once, got [{got}]")
        return value

    @model_validator(mode="after")
    def _bands(self) -> LoanProduct:
        _check_band("amount_min_minor", self.amount_min_minor, self.amount_max_minor, "amount_max_minor")
        _check_band("term_min", self.term_min, self.term_max, "term_max")
        _check_band("rate_min_annual", self.rate_min_annual, self.rate_max_annual, "rate_max_annual")
        if not self.rate_min_annual <= self.rate_annual <= self.rate_max_annual:
            raise MoneyError(
                "rate_annual",
                f"{self.rate_annual} is outside the band [{self.rate_min_annual}, {self.rate_max_annual}]",
            )
        return self

    def validate_request(
        self,
        amount_minor: int,
        term: int,
        rate_annual: Decimal | str | None = None,
        currency: str | None = None,
    ) -> Decimal:
        """Check a request against the product; returns the rate to use (the product's by default)."""
        if currency is not None and currency_of(currency).code != self.currency:
            raise MoneyError(
                "currency", f"product {self.product_id} lends in {self.currency}, not {currency}"
            )
        amount = check_amount_minor(amount_minor, "amount_minor")
        if not self.amount_min_minor <= amount <= self.amount_max_minor:
            raise MoneyError(
                "amount_minor",
                f"{amount} is outside [{self.amount_min_minor}, {self.amount_max_minor}] minor units",
            )
        if isinstance(term, bool) or not isinstance(term, int) or not self.term_min <= term <= self.term_max:
            raise MoneyError("term", f"{term!r} is outside [{self.term_min}, {self.term_max}] periods")
        return self._rate_within_band(rate_annual)

    def _rate_within_band(self, rate_annual: Decimal | str | None) -> Decimal:
        if rate_annual is None:
            return self.rate_annual
        rate = parse_rate(rate_annual, "rate_annual")
        if not self.rate_min_annual <= rate <= self.rate_max_annual:
            raise MoneyError(
                "rate_annual", f"{rate} is outside the band [{self.rate_min_annual}, {self.rate_max_annual}]"
            )
        return rate

    def upfront_fee_minor(self, amount_minor: int) -> int:
        """Billed with the first installment (the whole amount is paid out): the flat part plus
        upfront_rate × amount, rounded once."""
        return self.fees.upfront_minor + round_to_minor(
            Decimal(amount_minor) * self.fees.upfront_rate, self.rounding
        )

    def periodic_fee_minor(self, amount_minor: int) -> int:
        """Charged with every installment: periodic_rate × the original principal, rounded once."""
        return round_to_minor(Decimal(amount_minor) * self.fees.periodic_rate, self.rounding)

    def build_schedule(
        self,
        amount_minor: int,
        term: int,
        start: date,
        rate_annual: Decimal | str | None = None,
        first_due_date: date | None = None,
    ) -> Schedule:
        """The schedule under this product; refuses one whose APR with fees exceeds rate_cap_apr."""
        rate = self.validate_request(amount_minor, term, rate_annual)
        schedule = build_schedule(
            amount_minor=amount_minor,
            rate_annual=rate,
            term=term,
            method=self.schedule_method,
            start=start,
            currency=self.currency,
            frequency=self.frequency,
            day_count=self.day_count,
            rounding=self.rounding,
            first_due_date=first_due_date,
            fee_per_period_minor=self.periodic_fee_minor(amount_minor),
        )
        self.check_apr(schedule)
        return schedule

    def check_apr(self, schedule: Schedule) -> Decimal:
        """The schedule's APR including fees: the IRR of the loan's real flows (the whole amount out,
        the upfront fee billed with installment 1, a broken first period counted by its length; see
        schedule.apr_of); RateCapExceeded naming rate_annual above the cap."""
        apr = apr_of(schedule, self.upfront_fee_minor(schedule.amount_minor))
        check_rate_cap(apr, self.rate_cap_apr, "rate_annual")
        return apr


def _check_band(low_field: str, low: int | Decimal, high: int | Decimal, high_field: str) -> None:
    if low > high:
        raise MoneyError(low_field, f"{low} is greater than {high_field} {high}")
