"""Recovery after write-off (核销后收回): cash collected on a loan already written off.

The loan stays written off. The cash goes back through the loss allowance, as Chinese banks book
it: Dr settlement cash 1002 / Cr loss allowance 1304 (for the loan), and the next provision
releases what the allowance no longer needs into the impairment account, so 6701 shows the net
credit loss. The written-off claim kept off-balance (9101) goes down by as much, and the loan
counts what it has recovered (`recovered_minor`) for net charge-off reporting. A recovery is at
most the claim still open: written off less recovered so far.
"""

from __future__ import annotations

from datetime import date

from lendstack.ledger import AccountCode, EntryKind
from lendstack.money import Money
from lendstack.money.money import format_minor
from lendstack.servicing.commands import check_value_date
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event

A = AccountCode


def recover(loan: Loan, on: date, amount: Money, key: str) -> Outcome:
    """Book `amount` collected on written-off `loan` on `on`."""
    if loan.status is not LoanStatus.WRITTEN_OFF:
        raise ServicingError("status", f"the loan is {loan.status}; recoveries are for written-off loans "
                                       "(a live loan takes repayments)")
    if amount.currency != loan.currency:
        raise ServicingError("currency", f"{amount.currency} does not match the loan's {loan.currency}")
    cash = amount.amount_minor
    if cash <= 0:
        raise ServicingError("amount", f"must be positive, got {cash} minor units")
    check_value_date(loan, on)
    open_claim = loan.claim_after_write_off_minor
    if cash > open_claim:
        raise ServicingError("amount", f"{cash} is more than the claim still open after write-off, {open_claim} "
                                       f"minor units ({format_minor(open_claim, loan.currency)} {loan.currency})")
    new = loan.evolve(recovered_minor=loan.recovered_minor + cash)
    entry_id = f"{loan.loan_id}/recovery/{key}"
    pairs = [(A.SETTLEMENT_CASH, cash), (A.LOSS_ALLOWANCE, -cash),
             (A.MEMO_CONTRA, cash), (A.MEMO_WRITTEN_OFF, -cash)]
    entries = entry(new, entry_id, EntryKind.RECOVERY, on, pairs)
    ev = event(new, entry_id, "loan.recovered", on, amount_minor=cash, recovered_minor=new.recovered_minor,
               claim_open_minor=new.claim_after_write_off_minor)
    # This recovery; the loan's total is its `recovered_minor` (the service's loan summary).
    result = {"recovery_minor": cash, "claim_open_minor": new.claim_after_write_off_minor}
    return Outcome(new, entries, (ev,), result)
