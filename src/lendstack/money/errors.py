"""User-facing errors of the money package. Each names the field it is about."""

from __future__ import annotations


class MoneyError(ValueError):
    """Bad input about money: names the offending field so the caller can show it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class RateCapExceeded(MoneyError):
    """An annualized rate (APR) above the legal or product cap."""
