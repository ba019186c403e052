"""What a borrower must pay now: the amount due of a loan on a day, a pure function of the loan.

The loan's other balances are `Loan` properties (`principal_outstanding_minor`, the receivables);
the amount due depends on a day as well, so it is a function here. Its SQL twin, for queries over
many loans, is `store.balance_sql.amount_due_minor`; tests/store/test_balance_sql.py checks that
the two agree.
"""

from __future__ import annotations

from datetime import date

from lendstack.servicing.loan import Loan

BILLED_COMPONENTS = ("principal", "interest", "fee")  # what an installment bills; penalty is loan-level


def unpaid_due_minor(loan: Loan, as_of: date) -> int:
    """Principal, interest and fee of the installments due by `as_of` not paid yet (capitalised
    installments are no longer due)."""
    return sum(i.unpaid(part) for i in loan.installments if i.due_date <= as_of for part in BILLED_COMPONENTS)


def amount_due_minor(loan: Loan, as_of: date) -> int:
    """What is due by `as_of` and unpaid, plus the penalty receivable, less the suspense held; 0
    when no installment due is unpaid (a penalty alone is not a payment due), never negative."""
    unpaid = unpaid_due_minor(loan, as_of)
    if unpaid == 0:
        return 0
    return max(0, unpaid + loan.penalty_receivable_minor - loan.suspense_minor)
