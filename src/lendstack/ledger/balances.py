"""Balances are sums of postings. These pure functions are the reference the store is checked
against: the stored running balances must equal them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from lendstack.invariants import InvariantError
from lendstack.ledger.accounts import AccountCode, BalanceKey
from lendstack.ledger.entries import JournalEntry


def apply_entries(
    balances: Mapping[BalanceKey, int], entries: Iterable[JournalEntry], as_of: date | None = None
) -> dict[BalanceKey, int]:
    """New balances (debit-positive) after the entries with effective_date <= as_of."""
    out: dict[BalanceKey, int] = defaultdict(int, balances)
    for entry in entries:
        if as_of is not None and entry.effective_date > as_of:
            continue
        for p in entry.postings:
            out[p.key] += p.amount_minor
    return {k: v for k, v in out.items() if v != 0}


def trial_balance(balances: Mapping[BalanceKey, int]) -> dict[tuple[str, AccountCode], int]:
    """Debit-positive totals per (currency, account); each currency's column sums to zero."""
    totals: dict[tuple[str, AccountCode], int] = defaultdict(int)
    for key, amount in balances.items():
        totals[(key.currency, key.code)] += amount
    per_currency: dict[str, int] = defaultdict(int)
    for (currency, _code), amount in totals.items():
        per_currency[currency] += amount
    if any(v != 0 for v in per_currency.values()):
        raise InvariantError(f"trial balance is off: {dict(per_currency)}")
    return dict(totals)
