"""Loan servicing: the loan account state machine, its commands, and end of day (EOD).

Functional core: every command is a pure function (loan, arguments) -> Outcome(new loan, balanced
journal entries, domain events). The store persists outcomes in one transaction.

State machine: approved → active ⇄ overdue → closed | written_off. A restructure keeps the loan
live (active) and counts itself in `restructure_count`; the old installments stay as history.
Across it: accrual ⇄ non-accrual (income.py), and a restructured loan's observation (aging.py).
A written-off loan takes recoveries (recovery.py); a payment is undone by a reversal that replays
the loan's log (replay.py).
"""

from typing import TYPE_CHECKING, Any

from lendstack.servicing.aging import BUCKETS, DEFAULT_AGING, FIVE_TIER_ZH, AgingPolicy, FiveTier
from lendstack.servicing.commands import book, disburse, prepay, repay, write_off
from lendstack.servicing.eod import eod_one
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Installment, Loan, LoanStatus, LoanTerms, expected_balances
from lendstack.servicing.outcome import Outcome
from lendstack.servicing.recovery import recover
from lendstack.servicing.refund import refund
from lendstack.servicing.replay import LoanCommand, replay, reverse_payment
from lendstack.servicing.restructure import restructure

if TYPE_CHECKING:
    from lendstack.servicing.eod_columnar import eod_book


def __getattr__(name: str) -> Any:
    # The columnar end of day needs NumPy (~130 ms to import): it loads on first use (PEP 562), so
    # one loan's command or `lendstack loan show` does not pay for it.
    if name == "eod_book":
        from lendstack.servicing import eod_columnar

        return eod_columnar.eod_book
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUCKETS",
    "DEFAULT_AGING",
    "FIVE_TIER_ZH",
    "AgingPolicy",
    "FiveTier",
    "Installment",
    "Loan",
    "LoanCommand",
    "LoanStatus",
    "LoanTerms",
    "Outcome",
    "ServicingError",
    "book",
    "disburse",
    "eod_book",
    "eod_one",
    "expected_balances",
    "prepay",
    "recover",
    "refund",
    "repay",
    "replay",
    "restructure",
    "reverse_payment",
    "write_off",
]
