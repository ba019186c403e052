"""What the ledger needs from storage. `lendstack.store` implements it; tests may use a fake."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from lendstack.ledger.accounts import BalanceKey
from lendstack.ledger.entries import JournalEntry


class LedgerPort(Protocol):
    def post(self, entries: Sequence[JournalEntry]) -> None:
        """Append entries and update the running balances, in the caller's transaction."""

    def balance(self, key: BalanceKey, as_of: date | None = None) -> int:
        """Debit-positive balance of one key; from postings when as_of is given."""

    def balances_for_loan(self, loan_id: str) -> dict[BalanceKey, int]:
        """The stored running balances of every key of one loan."""

    def trial_balance(self, as_of: date | None = None) -> dict[tuple[str, str], int]:
        """Debit-positive totals per (currency, account code)."""
