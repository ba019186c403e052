"""Money: an integer count of minor units with a currency. Floats never hold money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lendstack.money.currency import currency_of
from lendstack.money.errors import MoneyError

# Ten billion major units in minor units: the largest single amount we book. It keeps every
# amount × rate-in-ppm product inside int64, which the columnar paths rely on.
AMOUNT_MINOR_MAX = 10**12


def check_amount_minor(value: object, field: str, *, positive: bool = True) -> int:
    """Validate an integer count of minor units; bool and float are refused by design."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(field, f"must be an integer number of minor units, got {value!r}")
    if positive and value <= 0:
        raise MoneyError(field, f"must be positive, got {value}")
    if abs(value) > AMOUNT_MINOR_MAX:
        raise MoneyError(field, f"magnitude exceeds the maximum of {AMOUNT_MINOR_MAX} minor units")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        check_amount_minor(self.amount_minor, "amount_minor", positive=False)
        code = currency_of(self.currency).code
        object.__setattr__(self, "currency", code)

    @classmethod
    def of_major(cls, major: str | int | Decimal, currency: str) -> Money:
        """Exact conversion from a major-unit decimal string ('12.34'); refuses sub-minor digits."""
        cur = currency_of(currency)
        if isinstance(major, float):
            raise MoneyError("amount", "floats are not accepted for money; pass a decimal string")
        try:
            value = Decimal(str(major))
        except ArithmeticError as exc:
            raise MoneyError("amount", f"not a decimal number: {major!r}") from exc
        if not value.is_finite():
            raise MoneyError("amount", f"not a finite number: {major!r}")
        minor = value * cur.minor_per_major
        if minor != minor.to_integral_value():
            raise MoneyError("amount", f"{major} has more than {cur.minor_digits} decimal places")
        return cls(int(minor), cur.code)

    def to_major_str(self) -> str:
        """Major units as an exact decimal string: 123456 CNY -> '1234.56'."""
        return format_minor(self.amount_minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError("currency", f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)


def format_minor(amount_minor: int, currency: str) -> str:
    """Major-unit decimal string of a minor-unit amount, exact (no float on the way)."""
    digits = currency_of(currency).minor_digits
    if digits == 0:
        return str(amount_minor)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def format_minor_grouped(amount_minor: int, currency: str) -> str:
    """`format_minor` with thousands separators ("1,234,567.89"; "1,234,567" for JPY): the one
    display form for people (CLI, console, reports), exact, with the currency's own digits."""
    text = format_minor(amount_minor, currency)
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = body.partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"
