"""Loan servicing: the loan account state machine, its commands, and end of day (EOD).

Functional core: every command is a pure function (loan, arguments) -> Outcome(new loan, balanced
journal entries, domain events). The store persists outcomes in one transaction.

State machine: approved → active ⇄ overdue → closed | written_off. A restructure keeps the loan
live (active) and counts itself in `restructure_count`; the old installments stay as history.
"""

from lendstack.servicing.aging import BUCKETS, DEFAULT_AGING, FIVE_TIER_ZH, AgingPolicy, FiveTier
from lendstack.servicing.commands import book, disburse, prepay, repay, restructure, write_off
from lendstack.servicing.eod import eod_one
from lendstack.servicing.eod_columnar import eod_book
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Installment, Loan, LoanStatus, LoanTerms, expected_balances
from lendstack.servicing.outcome import Outcome
from lendstack.servicing.refund import refund

__all__ = [
    "BUCKETS",
    "DEFAULT_AGING",
    "FIVE_TIER_ZH",
    "AgingPolicy",
    "FiveTier",
    "Installment",
    "Loan",
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
    "refund",
    "repay",
    "restructure",
    "write_off",
]
