"""Money meeting what is owed: recognising to date, allocation, suspense, closing.

Shared by the commands and by end of day; imports neither.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from lendstack.invariants import InvariantError, check
from lendstack.ledger import AccountCode, EntryKind
from lendstack.servicing.accrual import fee_target, interest_target
from lendstack.servicing.aging import FiveTier
from lendstack.servicing.income import Pairs, earned_pairs, fee_pairs, interest_pairs, payment_pairs, unearned_capped
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event

A = AccountCode


def accrue_to(loan: Loan, on: date, entry_id: str) -> Outcome:
    """Recognise interest earned and fees fallen due by the end of `on` (idempotent by design);
    a loan in non-accrual accrues its interest on the memo account instead of income."""
    interest_delta = interest_target(loan, on) - loan.interest_accrued_minor
    fee_delta = fee_target(loan, on) - loan.fee_charged_minor
    if interest_delta < 0 or fee_delta < 0:
        raise InvariantError((loan.loan_id, on, interest_delta, fee_delta))
    if interest_delta == 0 and fee_delta == 0:
        return Outcome(loan)
    new = loan.evolve(
        interest_accrued_minor=loan.interest_accrued_minor + interest_delta,
        fee_charged_minor=loan.fee_charged_minor + fee_delta,
    )
    pairs = interest_pairs(loan, interest_delta) + fee_pairs(fee_delta)
    return Outcome(new, entry(new, entry_id, EntryKind.ACCRUE_INTEREST, on, pairs))


def allocate(loan: Loan, on: date, available_minor: int) -> tuple[Loan, dict[str, int], int]:
    """Apply money to what is due by `on` in the product's allocation order.

    Component-major: the first component is paid on every due installment (oldest first) before
    the next component is touched. Returns the new loan, amount paid per component, money left.
    Unearned capitalised interest above the principal left is earned (see income.py): the caller
    posts `loan.unearned_minor - new.unearned_minor` with `earned_pairs`.
    """
    insts = list(loan.installments)
    due = [k for k, inst in enumerate(insts) if inst.due_date <= on and inst.is_open]
    paid = dict.fromkeys(("penalty", "fee", "interest", "principal"), 0)
    left = available_minor
    for component in loan.terms.allocation_order:
        if component == "penalty":
            take = min(left, loan.penalty_receivable_minor)
            paid["penalty"], left = take, left - take
            continue
        for k in due:
            take = min(left, insts[k].unpaid(component))
            if take:
                field = f"{component}_paid_minor"
                insts[k] = dataclasses.replace(insts[k], **{field: getattr(insts[k], field) + take})
                paid[component] += take
                left -= take
    new = loan.evolve(
        installments=tuple(insts),
        penalty_paid_minor=loan.penalty_paid_minor + paid["penalty"],
        fee_paid_minor=loan.fee_paid_minor + paid["fee"],
        interest_paid_minor=loan.interest_paid_minor + paid["interest"],
        principal_repaid_minor=loan.principal_repaid_minor + paid["principal"],
        unearned_minor=unearned_capped(loan.unearned_minor, loan.principal_outstanding_minor - paid["principal"]),
    )
    return new, paid, left


def money_in_pairs(before: Loan, after: Loan, paid: dict[str, int], cash_minor: int,
                   suspense_delta_minor: int) -> Pairs:
    """The postings of money meeting a loan: what it paid (income on receipt in non-accrual), the
    change in suspense, and the unearned capitalised interest it covered."""
    earned = before.unearned_minor - after.unearned_minor
    return payment_pairs(before, paid, cash_minor, suspense_delta_minor) + earned_pairs(earned)


def apply_suspense(loan: Loan, on: date, entry_id: str) -> Outcome:
    """Money held in suspense pays what has fallen due (run by EOD on due dates)."""
    if loan.suspense_minor == 0:
        return Outcome(loan)
    applied, paid, left = allocate(loan, on, loan.suspense_minor)
    used = loan.suspense_minor - left
    if used == 0:
        return Outcome(loan)
    final = close_if_settled(applied.evolve(suspense_minor=left))
    pairs = money_in_pairs(loan, applied, paid, 0, -used)
    entries = entry(final, entry_id, EntryKind.REPAY, on, pairs, "from suspense")
    return Outcome(final, entries, (event(final, entry_id, "loan.repaid", on, amount_minor=used, allocation=paid),))


def close_if_settled(loan: Loan) -> Loan:
    owed = (loan.principal_outstanding_minor + loan.interest_receivable_minor + loan.fee_receivable_minor
            + loan.penalty_receivable_minor)
    if owed == 0 and loan.is_live and not any(i.is_open for i in loan.installments):
        check(loan.unearned_minor == 0, "repaid principal has earned all unearned interest")
        return loan.evolve(status=LoanStatus.CLOSED, days_past_due=0, bucket="M0", non_accrual=False,
                           observation_floor=FiveTier.NORMAL, observation_end=None,
                           observation_missed=False)
    return loan
