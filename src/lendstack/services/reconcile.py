"""Checking the books: every stored balance against its postings, every entry balanced, and every
loan's counters against its sub-ledger (`lendstack ledger verify`, the demo's summary).

One read-only pass in one transaction, so the ledger and the loans are checked as of the same
moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from lendstack.store import Engine, LedgerMismatch, UnitOfWork
from lendstack.store.reconcile_repo import LoanReconciliation, reconcile_loans


@dataclass(frozen=True, slots=True)
class BookCheck:
    ledger_problems: tuple[LedgerMismatch, ...]  # SqlLedger.verify's findings; empty: the ledger is sound
    loans: LoanReconciliation  # loans whose counters differ from their sub-ledger, and orphan balances

    @property
    def ok(self) -> bool:
        return not self.ledger_problems and self.loans.ok


def verify_book(engine: Engine) -> BookCheck:
    """The ledger verified and every loan reconciled with its sub-ledger."""
    with UnitOfWork(engine) as uow:
        problems = uow.ledger.verify()
        loans = reconcile_loans(uow.connection)
    return BookCheck(tuple(problems), loans)
