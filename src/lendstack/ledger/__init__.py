"""Double-entry ledger: chart of accounts, journal entries, postings, balances, trial balance.

Pure domain: immutable values and functions over them. Persistence goes through the
`LedgerPort` protocol, implemented by `lendstack.store`.
"""

from lendstack.ledger.accounts import CHART, MEMO_CODES, AccountCode, AccountKind, AccountSpec, BalanceKey
from lendstack.ledger.balances import apply_entries, trial_balance
from lendstack.ledger.entries import (
    DEFAULT_FUNDER,
    EntryKind,
    JournalEntry,
    LedgerError,
    Posting,
    check_balanced,
    reversal_of,
)
from lendstack.ledger.port import LedgerPort

__all__ = [
    "CHART",
    "DEFAULT_FUNDER",
    "MEMO_CODES",
    "AccountCode",
    "AccountKind",
    "AccountSpec",
    "BalanceKey",
    "EntryKind",
    "JournalEntry",
    "LedgerError",
    "LedgerPort",
    "Posting",
    "apply_entries",
    "check_balanced",
    "reversal_of",
    "trial_balance",
]
