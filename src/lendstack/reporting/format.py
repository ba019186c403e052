"""Display formats for reports: money from integer minor units (exact, no float on the way),
shares as percentages, indices with fixed decimals; a missing value shows as an em dash."""

from __future__ import annotations

from typing import Any

from lendstack.money.money import format_minor_grouped

MISSING = "—"


def money(amount_minor: Any, currency: str) -> str:
    """1234567.89 CNY from 123456789 minor units: thousands separators, the currency's digits."""
    if amount_minor is None:
        return MISSING
    assert isinstance(amount_minor, int) and not isinstance(amount_minor, bool), amount_minor
    return format_minor_grouped(amount_minor, currency)


def pct(value: Any, digits: int = 2) -> str:
    if value is None:
        return MISSING
    return f"{float(value) * 100:.{digits}f}%"


def fixed(value: Any, digits: int = 4) -> str:
    if value is None:
        return MISSING
    return f"{float(value):.{digits}f}"


def interval(bounds: Any, digits: int = 3, as_pct: bool = False) -> str:
    """A (low, high) confidence interval as [low, high]."""
    if not bounds:
        return MISSING
    low, high = bounds
    if as_pct:
        return f"[{pct(low, 1)}, {pct(high, 1)}]"
    return f"[{fixed(low, digits)}, {fixed(high, digits)}]"
