"""Journal entries balance per currency, are immutable, and are corrected by reversal."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendstack.ledger import (
    AccountCode,
    BalanceKey,
    EntryKind,
    JournalEntry,
    LedgerError,
    Posting,
    apply_entries,
    reversal_of,
    trial_balance,
)

A = AccountCode
DAY = date(2026, 5, 1)


def disbursement(amount_minor: int, loan_id: str = "L1", currency: str = "CNY") -> JournalEntry:
    return JournalEntry(f"d-{loan_id}", EntryKind.DISBURSE, DAY, (
        Posting(A.LOAN_PRINCIPAL, currency, amount_minor, loan_id),
        Posting(A.SETTLEMENT_CASH, currency, -amount_minor, loan_id),
    ), loan_id)


def test_an_unbalanced_entry_is_refused() -> None:
    with pytest.raises(LedgerError) as err:
        JournalEntry("x", EntryKind.REPAY, DAY, (Posting(A.SETTLEMENT_CASH, "CNY", 100),
                                                 Posting(A.LOAN_PRINCIPAL, "CNY", -99)))
    assert err.value.field == "postings"


def test_balance_is_per_currency_and_needs_two_postings() -> None:
    with pytest.raises(LedgerError):  # sums to zero overall but not per currency
        JournalEntry("x", EntryKind.REPAY, DAY, (Posting(A.SETTLEMENT_CASH, "CNY", 100),
                                                 Posting(A.LOAN_PRINCIPAL, "USD", -100)))
    with pytest.raises(LedgerError):
        JournalEntry("x", EntryKind.REPAY, DAY, (Posting(A.SETTLEMENT_CASH, "CNY", 100),))


def test_entries_are_immutable() -> None:
    entry = disbursement(100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.memo = "edited"  # type: ignore[misc]


def test_a_reversal_restores_every_balance() -> None:
    entry = disbursement(12_345)
    undo = reversal_of(entry, "r1", DAY)
    assert undo.reverses_entry_id == entry.entry_id and undo.kind is EntryKind.REVERSAL
    assert apply_entries({}, [entry, undo]) == {}


def test_balances_as_of_a_date() -> None:
    later = dataclasses.replace(disbursement(50, "L2"), effective_date=date(2026, 6, 1))
    balances = apply_entries({}, [disbursement(100), later], as_of=DAY)
    assert balances == {BalanceKey(A.LOAN_PRINCIPAL, "CNY", "self", "L1"): 100,
                        BalanceKey(A.SETTLEMENT_CASH, "CNY", "self", "L1"): -100}


@given(st.lists(st.tuples(st.integers(1, 10**9), st.sampled_from(["CNY", "USD", "HKD"])), min_size=1, max_size=30))
def test_the_trial_balance_of_any_balanced_entries_is_zero(items: list[tuple[int, str]]) -> None:
    entries = [disbursement(amount, f"L{k}", currency) for k, (amount, currency) in enumerate(items)]
    totals = trial_balance(apply_entries({}, entries))
    for currency in {c for _, c in items}:
        assert sum(v for (c, _code), v in totals.items() if c == currency) == 0
