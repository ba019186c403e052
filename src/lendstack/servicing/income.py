"""Where a loan's interest and penalty go: income while it accrues, memo accounts in non-accrual.

Non-accrual (停止计息 / 表外应收利息). Past `AgingPolicy.non_accrual_dpd` days past due a loan stops
recognising interest and penalty as income:
- entering: the unpaid interest and penalty on the balance sheet are reversed out of income
  (Dr 6011 / Cr 1311, Dr 6012 / Cr 1312) and carried on memo accounts (Dr 9011, 9012 / Cr 9999);
- while in it: interest and penalty accrue on the memo accounts only; cash that pays them is
  income when received (Cr 6011 / 6012), and the memo claim goes down by as much;
- resuming (DPD back to `accrual_resume_dpd` and a performing class): the memo claim comes back on
  the balance sheet as income, and so does any unearned capitalised interest (1306).
So in accrual the memo accounts are empty and in non-accrual the receivables 1311 and 1312 are:
the owed amount sits in exactly one place (`Loan.interest_on_balance_minor`, `interest_memo_minor`).

Unearned capitalised interest (1306): a restructure capitalises a non-accrual loan's memo interest
and penalty into principal; being never earned, it is credited to a contra account and recognised
as income only as cash covers it: whenever the principal outstanding falls below it (cost recovery),
at accrual resumption, and at close. A write-off nets it against the principal.

Pure functions returning (account, amount) pairs; callers build the entries.
"""

from __future__ import annotations

from lendstack.invariants import check
from lendstack.ledger import AccountCode
from lendstack.servicing.loan import Loan

A = AccountCode
Pairs = list[tuple[AccountCode, int]]


def interest_pairs(loan: Loan, amount_minor: int) -> Pairs:
    """Interest accrued: income in accrual, memo in non-accrual."""
    if loan.non_accrual:
        return [(A.MEMO_INTEREST, amount_minor), (A.MEMO_CONTRA, -amount_minor)]
    return [(A.INTEREST_RECEIVABLE, amount_minor), (A.INTEREST_INCOME, -amount_minor)]


def penalty_pairs(loan: Loan, amount_minor: int) -> Pairs:
    """Penalty interest accrued: income in accrual, memo in non-accrual."""
    if loan.non_accrual:
        return [(A.MEMO_PENALTY, amount_minor), (A.MEMO_CONTRA, -amount_minor)]
    return [(A.PENALTY_RECEIVABLE, amount_minor), (A.PENALTY_INCOME, -amount_minor)]


def fee_pairs(amount_minor: int) -> Pairs:
    """Fees are billed when due, in accrual or not (non-accrual concerns interest and penalty)."""
    return [(A.FEE_RECEIVABLE, amount_minor), (A.FEE_INCOME, -amount_minor)]


def payment_pairs(loan: Loan, paid: dict[str, int], cash_minor: int, suspense_delta_minor: int) -> Pairs:
    """Dr cash received; Cr what it paid; the change in suspense balances the rest. In non-accrual
    the interest and penalty paid are income on receipt and leave the memo claim."""
    pairs: Pairs = [(A.SETTLEMENT_CASH, cash_minor)]
    if loan.non_accrual:
        pairs += [(A.PENALTY_INCOME, -paid["penalty"]), (A.FEE_RECEIVABLE, -paid["fee"]),
                  (A.INTEREST_INCOME, -paid["interest"]), (A.LOAN_PRINCIPAL, -paid["principal"]),
                  (A.SUSPENSE, -suspense_delta_minor),
                  (A.MEMO_CONTRA, paid["penalty"] + paid["interest"]),
                  (A.MEMO_PENALTY, -paid["penalty"]), (A.MEMO_INTEREST, -paid["interest"])]
        return pairs
    return [*pairs, (A.PENALTY_RECEIVABLE, -paid["penalty"]), (A.FEE_RECEIVABLE, -paid["fee"]),
            (A.INTEREST_RECEIVABLE, -paid["interest"]), (A.LOAN_PRINCIPAL, -paid["principal"]),
            (A.SUSPENSE, -suspense_delta_minor)]


def enter_non_accrual(loan: Loan) -> tuple[Loan, Pairs]:
    """Stop accruing: reverse the balance sheet's unpaid interest and penalty into memo."""
    check(not loan.non_accrual and loan.is_live, loan.loan_id)
    interest, penalty = loan.interest_receivable_minor, loan.penalty_receivable_minor
    pairs: Pairs = [
        (A.INTEREST_INCOME, interest), (A.INTEREST_RECEIVABLE, -interest),
        (A.PENALTY_INCOME, penalty), (A.PENALTY_RECEIVABLE, -penalty),
        (A.MEMO_INTEREST, interest), (A.MEMO_PENALTY, penalty), (A.MEMO_CONTRA, -(interest + penalty)),
    ]
    new = loan.evolve(non_accrual=True)
    check(new.interest_on_balance_minor == 0 and new.interest_memo_minor == interest,
          "all accrued interest moved to memo")
    return new, pairs


def resume_accrual(loan: Loan) -> tuple[Loan, Pairs]:
    """Accrue again: the memo claim and any unearned capitalised interest become income."""
    check(loan.non_accrual and loan.is_live, loan.loan_id)
    interest, penalty, unearned = loan.interest_receivable_minor, loan.penalty_receivable_minor, loan.unearned_minor
    pairs: Pairs = [
        (A.INTEREST_RECEIVABLE, interest), (A.INTEREST_INCOME, -interest),
        (A.PENALTY_RECEIVABLE, penalty), (A.PENALTY_INCOME, -penalty),
        (A.MEMO_CONTRA, interest + penalty), (A.MEMO_INTEREST, -interest), (A.MEMO_PENALTY, -penalty),
        (A.UNEARNED_CAPITALISED, unearned), (A.INTEREST_INCOME, -unearned),
    ]
    return loan.evolve(non_accrual=False, unearned_minor=0), pairs


def unearned_capped(unearned_minor: int, principal_outstanding_minor: int) -> int:
    """Cost recovery: unearned capitalised interest above the principal still outstanding has been
    covered by cash, so only the rest stays unearned (none once the loan is repaid)."""
    return min(unearned_minor, max(principal_outstanding_minor, 0))


def earned_pairs(earned_minor: int) -> Pairs:
    """Unearned capitalised interest that cash has covered becomes interest income."""
    check(earned_minor >= 0, "earned unearned interest is not negative")
    return [(A.UNEARNED_CAPITALISED, earned_minor), (A.INTEREST_INCOME, -earned_minor)]


def merge_pairs(pairs: Pairs) -> Pairs:
    """One pair per account, in first-seen order, zero totals dropped by the entry builder."""
    merged: dict[AccountCode, int] = {}
    for code, amount in pairs:
        merged[code] = merged.get(code, 0) + amount
    return list(merged.items())
