"""Refund: pay money held in a loan's suspense (暂收款, an overpayment) back to the borrower.

Without it a closed or settled loan keeps an overpayment forever. One balanced entry per refund:
Dr suspense (the liability to the borrower goes down), Cr settlement cash (the same cash account a
repayment debits: the money leaves the way it came in). Only `suspense_minor` changes on the loan.

Statuses: active, overdue, closed and written off. A write-off (commands.write_off) leaves suspense
untouched (it writes off receivables only) and end of day skips loans that are not live, so a
written-off loan's suspense is still plainly the borrower's money: it is refundable like any other.
An approved loan has never taken money: it is refused as not disbursed.

Dates follow every other command (commands.check_value_date): a live loan is refunded on its next
open day, never in a day end of day has closed. A closed loan's own cursor stops when it closes, so
the caller may pass the book's last closed day (`closed_through`) to keep refunds out of closed
days too; the service layer dates every command on the business date anyway.
"""

from __future__ import annotations

from datetime import date

from lendstack.invariants import InvariantError, check
from lendstack.ledger import AccountCode, EntryKind
from lendstack.money.money import format_minor
from lendstack.servicing.commands import check_value_date
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event

A = AccountCode
REFUNDABLE_STATUSES = (LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.CLOSED, LoanStatus.WRITTEN_OFF)


def check_refund_amount(amount_minor: int) -> int:
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise ServicingError("amount_minor", f"must be an integer count of minor units, got {amount_minor!r}")
    if amount_minor <= 0:
        raise ServicingError("amount_minor", f"must be positive, got {amount_minor} minor units")
    return amount_minor


def check_refund_date(loan: Loan, on: date, closed_through: date | None) -> None:
    check_value_date(loan, on)
    if closed_through is not None and on <= closed_through:
        raise ServicingError("on", f"{on} is already closed by end of day (the book is closed through "
                                   f"{closed_through})")


def refund(
    loan: Loan, amount_minor: int, on: date, key: str, *, currency: str | None = None,
    closed_through: date | None = None,
) -> Outcome:
    """Refund `amount_minor` (at most the suspense balance as of `on`) to the borrower.

    `currency`, when given, must be the loan's. `closed_through` is the book's last closed day."""
    check_refund_amount(amount_minor)
    if currency is not None and currency != loan.currency:
        raise ServicingError("currency", f"{currency} does not match the loan's {loan.currency}")
    check_refund_date(loan, on, closed_through)  # an approved loan: "not disbursed" (it never took money)
    if loan.status not in REFUNDABLE_STATUSES:
        raise InvariantError(loan.status)
    held = loan.suspense_minor
    if amount_minor > held:
        raise ServicingError("amount_minor", f"{amount_minor} is more than the suspense balance of {held} minor units"
                                             f" ({format_minor(held, loan.currency)} {loan.currency})")
    new = loan.evolve(suspense_minor=held - amount_minor)
    entry_id = f"{loan.loan_id}/refund/{key}"
    pairs = [(A.SUSPENSE, amount_minor), (A.SETTLEMENT_CASH, -amount_minor)]  # Dr suspense, Cr cash
    entries = entry(new, entry_id, EntryKind.REFUND, on, pairs)
    check(len(entries) == 1, "a positive refund posts exactly one entry")
    ev = event(new, entry_id, "loan.refunded", on, amount_minor=amount_minor, suspense_minor=new.suspense_minor)
    result = {"refunded_minor": amount_minor, "suspense_minor": new.suspense_minor}
    return Outcome(new, entries, (ev,), result)
