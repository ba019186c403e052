"""ISO 4217 currencies that lendstack books in, with their minor-unit exponent."""

from __future__ import annotations

from dataclasses import dataclass

from lendstack.money.errors import MoneyError


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    minor_digits: int  # 2 for CNY (fen), USD (cents); 0 for JPY.
    name: str

    @property
    def minor_per_major(self) -> int:
        return int(10**self.minor_digits)


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", 2, "Chinese yuan renminbi"),
        Currency("USD", 2, "US dollar"),
        Currency("EUR", 2, "Euro"),
        Currency("HKD", 2, "Hong Kong dollar"),
        Currency("GBP", 2, "Pound sterling"),
        Currency("SGD", 2, "Singapore dollar"),
        Currency("JPY", 0, "Japanese yen"),
    )
}


def currency_of(code: object, field: str = "currency") -> Currency:
    """The Currency for an ISO code; a clear error naming `field` for anything else."""
    if not isinstance(code, str):
        raise MoneyError(field, f"must be an ISO 4217 code string, got {type(code).__name__}")
    found = CURRENCIES.get(code.upper())
    if found is None:
        known = ", ".join(sorted(CURRENCIES))
        raise MoneyError(field, f"unknown currency {code!r}; known: {known}")
    return found
