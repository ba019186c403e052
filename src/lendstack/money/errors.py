"""User-facing errors of the money package. Each names the field it is about."""

from __future__ import annotations

from lendstack.errors import LendstackError


class MoneyError(LendstackError):
    """Bad input about money: names the offending field so the caller can show it."""


class RateCapExceeded(MoneyError):
    """An annualized rate (APR) above the legal or product cap."""
