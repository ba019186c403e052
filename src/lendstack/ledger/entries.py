"""Journal entries and postings. An entry is immutable, has at least two postings, and balances
per currency: the signed amounts (debit positive, credit negative) sum to zero. A mistake is
corrected by a reversing entry, never by editing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from lendstack.errors import LendstackError
from lendstack.invariants import InvariantError
from lendstack.ledger.accounts import MEMO_CODES, AccountCode, BalanceKey

DEFAULT_FUNDER = "self"  # the lender's own balance sheet; co-lenders get their own ids
POSTINGS_PER_ENTRY_MAX = 64  # an entry is one business event, not a batch


class LedgerError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


class EntryKind(StrEnum):
    DISBURSE = "disburse"
    REPAY = "repay"
    REFUND = "refund"  # money held in suspense paid back to the borrower 退还暂收款
    PREPAY = "prepay"
    ACCRUE_INTEREST = "accrue_interest"
    ACCRUE_PENALTY = "accrue_penalty"
    CHARGE_FEE = "charge_fee"
    WRITE_OFF = "write_off"
    RESTRUCTURE = "restructure"
    REVERSAL = "reversal"
    CAPITAL = "capital"
    PROVISION = "provision"
    EOD = "eod"  # one loan's end of day: interest, fees and penalty recognised together
    NON_ACCRUAL = "non_accrual"  # into non-accrual: accrued interest and penalty leave income for memo 停止计息
    ACCRUAL_RESUMED = "accrual_resumed"  # back to accrual: memo interest and penalty recognised again
    RECOVERY = "recovery"  # cash collected on a written-off loan 核销后收回
    CORRECTION = "correction"  # the differences a reversal's replay makes to later days 冲正重算


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry. amount_minor > 0 is a debit, < 0 a credit; never zero."""

    code: AccountCode
    currency: str
    amount_minor: int
    loan_id: str = ""
    funder_id: str = DEFAULT_FUNDER

    def __post_init__(self) -> None:
        # Inline rather than check(): the hottest constructor in the ledger, three calls saved each.
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise InvariantError("a posting amount is an int of minor units")
        if self.amount_minor == 0:
            raise InvariantError("a zero posting carries no information")
        if not isinstance(self.code, AccountCode):
            raise InvariantError("a posting is on a known account code")

    @property
    def key(self) -> BalanceKey:
        return BalanceKey(self.code, self.currency, self.funder_id, self.loan_id)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    entry_id: str
    kind: EntryKind
    effective_date: date  # the value date: balances "as of D" include entries with date <= D
    postings: tuple[Posting, ...]
    loan_id: str = ""
    memo: str = ""
    reverses_entry_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        check_balanced(self.postings)


def check_balanced(postings: Iterable[Posting]) -> None:
    """Assert the double-entry invariant: >= 2 postings, each currency sums to zero, and so do the
    memo (off-balance) postings on their own, so memo lines never move the balance sheet."""
    items = tuple(postings)
    if len(items) < 2:
        raise LedgerError("postings", f"an entry needs at least two postings, got {len(items)}")
    if len(items) > POSTINGS_PER_ENTRY_MAX:
        raise LedgerError("postings", f"at most {POSTINGS_PER_ENTRY_MAX} postings per entry")
    sums: dict[str, int] = defaultdict(int)
    memo: dict[str, int] = defaultdict(int)
    for p in items:
        sums[p.currency] += p.amount_minor
        if p.code in MEMO_CODES:
            memo[p.currency] += p.amount_minor
    unbalanced = {c: s for c, s in sums.items() if s != 0}
    if unbalanced:
        raise LedgerError("postings", f"entry does not balance per currency: {unbalanced}")
    memo_off = {c: s for c, s in memo.items() if s != 0}
    if memo_off:
        raise LedgerError("postings", f"memo (off-balance) postings do not balance on their own: {memo_off}")


def reversal_of(entry: JournalEntry, entry_id: str, effective_date: date, memo: str = "") -> JournalEntry:
    """A new entry that undoes `entry`: same postings with the signs flipped."""
    flipped = tuple(
        Posting(p.code, p.currency, -p.amount_minor, p.loan_id, p.funder_id) for p in entry.postings
    )
    return JournalEntry(
        entry_id=entry_id,
        kind=EntryKind.REVERSAL,
        effective_date=effective_date,
        postings=flipped,
        loan_id=entry.loan_id,
        memo=memo or f"reversal of {entry.entry_id}",
        reverses_entry_id=entry.entry_id,
    )
