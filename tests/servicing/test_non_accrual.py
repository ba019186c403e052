"""Non-accrual (停止计息 / 表外应收利息): past 90 DPD interest and penalty stop being income, what was
accrued and unpaid moves to memo accounts, cash is income when received, and accrual resumes when
the loan is current again. Numbers a loan officer can check by hand."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from lendstack.ledger import MEMO_CODES, AccountCode, EntryKind, JournalEntry, apply_entries, trial_balance
from lendstack.money import Money
from lendstack.products import LoanProduct, get_product
from lendstack.servicing import AgingPolicy, FiveTier, Loan, book, disburse, expected_balances, repay
from lendstack.servicing.loan import SUBLEDGER_CODES
from tests.servicing.servicing_strategies import close_days as run_to

A = AccountCode
ON = date(2026, 1, 15)
INCOME = (A.INTEREST_INCOME, A.PENALTY_INCOME)


def product() -> LoanProduct:
    base = get_product("consumer_cny_12m").model_dump()
    base.update({"fees": {}, "grace_days": 0, "rate_annual": "0.12", "rate_min_annual": "0.05",
                 "rate_max_annual": "0.2", "amount_min_minor": 1_000})
    return LoanProduct.model_validate(base)


def start() -> tuple[Loan, list[JournalEntry]]:
    booked = book("L", product(), Money(1_200_000, "CNY"), 12, on=ON).loan
    out = disburse(booked, ON, "d")
    return out.loan, list(out.entries)




def sub_ledger(entries: list[JournalEntry], loan: Loan) -> dict[object, int]:
    balances = apply_entries({}, entries)
    return {k: v for k, v in balances.items() if k.code in SUBLEDGER_CODES and k.loan_id == loan.loan_id}


def income_postings(entries: list[JournalEntry], kinds: tuple[EntryKind, ...]) -> int:
    return sum(p.amount_minor for e in entries if e.kind in kinds for p in e.postings if p.code in INCOME)


def test_past_90_dpd_accrued_interest_and_penalty_leave_income_for_memo() -> None:
    loan, entries = start()
    first_due = loan.installments[0].due_date
    at_90 = run_to(loan, entries, first_due + timedelta(days=90))
    assert at_90.days_past_due == 90 and not at_90.non_accrual
    owed_interest, owed_penalty = at_90.interest_receivable_minor, at_90.penalty_receivable_minor
    assert owed_interest > 0 and owed_penalty > 0
    day_91 = first_due + timedelta(days=91)
    n = len(entries)
    at_91 = run_to(at_90, entries, day_91)
    switch = [e for e in entries[n:] if e.kind is EntryKind.NON_ACCRUAL]
    assert at_91.non_accrual and len(switch) == 1
    moved = {p.code: p.amount_minor for p in switch[0].postings}
    # What was income (including day 91's own accrual, recognised before the switch) is reversed...
    assert moved[A.INTEREST_INCOME] == -moved[A.INTEREST_RECEIVABLE] == at_91.interest_receivable_minor
    assert moved[A.PENALTY_INCOME] == -moved[A.PENALTY_RECEIVABLE] == at_91.penalty_receivable_minor
    # ... and carried off balance: memo receivable and memo contra, balancing among themselves.
    assert moved[A.MEMO_INTEREST] == at_91.interest_receivable_minor
    assert moved[A.MEMO_PENALTY] == at_91.penalty_receivable_minor
    assert sum(v for c, v in moved.items() if c in MEMO_CODES) == 0
    assert at_91.interest_on_balance_minor == 0 and at_91.interest_memo_minor == at_91.interest_receivable_minor
    assert sub_ledger(entries, at_91) == expected_balances(at_91)


def test_in_non_accrual_interest_accrues_on_memo_only_and_cash_is_income_when_received() -> None:
    loan, entries = start()
    first_due = loan.installments[0].due_date
    na = run_to(loan, entries, first_due + timedelta(days=100))
    assert na.non_accrual
    n = len(entries)
    later = run_to(na, entries, first_due + timedelta(days=130))
    assert later.interest_memo_minor > na.interest_memo_minor  # interest still owed, just not income
    assert income_postings(entries[n:], (EntryKind.EOD,)) == 0
    assert sub_ledger(entries, later) == expected_balances(later)
    pay_day = first_due + timedelta(days=131)
    paid = repay(later, pay_day, Money(50_000, "CNY"), "p1")
    entries += paid.entries
    got = paid.result["paid"]
    repay_entry = next(e for e in paid.entries if e.kind is EntryKind.REPAY)
    lines = {p.code: p.amount_minor for p in repay_entry.postings}
    # Penalty first, then interest (the product's order): income on receipt, memo claim reduced.
    assert lines[A.PENALTY_INCOME] == -got["penalty"] and lines[A.INTEREST_INCOME] == -got["interest"]
    assert lines[A.MEMO_INTEREST] == -got["interest"] and lines[A.MEMO_PENALTY] == -got["penalty"]
    assert A.INTEREST_RECEIVABLE not in lines and A.PENALTY_RECEIVABLE not in lines
    assert sub_ledger(entries, paid.loan) == expected_balances(paid.loan)


def test_accrual_resumes_when_current_and_performing_and_the_memo_claim_becomes_income() -> None:
    loan, entries = start()
    first_due = loan.installments[0].due_date
    na = run_to(loan, entries, first_due + timedelta(days=95))
    owed = (na.principal_outstanding_minor + na.interest_receivable_minor + na.penalty_receivable_minor
            + na.fee_receivable_minor)
    day = first_due + timedelta(days=96)
    cured = repay(na, day, Money(owed - na.installments[-1].principal_minor, "CNY"), "cure")
    entries += cured.entries
    assert cured.loan.days_past_due == 95 and cured.loan.non_accrual  # aged only by end of day
    n = len(entries)
    after = run_to(cured.loan, entries, day)
    resumed = [e for e in entries[n:] if e.kind is EntryKind.ACCRUAL_RESUMED]
    assert not after.non_accrual and after.days_past_due == 0 and len(resumed) == 1
    lines = {p.code: p.amount_minor for p in resumed[0].postings}
    assert lines.get(A.MEMO_INTEREST, 0) == -cured.loan.interest_receivable_minor
    assert after.interest_memo_minor == 0 and after.penalty_memo_minor == 0
    assert sub_ledger(entries, after) == expected_balances(after)
    trial_balance(apply_entries({}, entries))


def test_the_thresholds_are_configurable() -> None:
    loan, entries = start()
    first_due = loan.installments[0].due_date
    strict = AgingPolicy(non_accrual_dpd=30)
    at_31 = run_to(loan, entries, first_due + timedelta(days=31), strict)
    assert at_31.non_accrual and at_31.five_tier is FiveTier.SPECIAL_MENTION
    default = run_to(start()[0], [], first_due + timedelta(days=31))
    assert not default.non_accrual


def test_write_off_of_a_non_accrual_loan_takes_only_the_balance_sheet_as_loss() -> None:
    from lendstack.servicing import write_off

    loan, entries = start()
    first_due = loan.installments[0].due_date
    na = run_to(loan, entries, first_due + timedelta(days=120))
    out = write_off(na, first_due + timedelta(days=121), "wo", allowance_minor=100_000)
    entries += out.entries
    new = out.loan
    assert out.result["loss_minor"] == na.principal_outstanding_minor + na.fee_receivable_minor
    assert out.result["allowance_used_minor"] == 100_000
    assert out.result["expense_minor"] == out.result["loss_minor"] - 100_000
    # The whole contractual claim stays on the memo register for recoveries.
    # (interest through the write-off day itself: one more day than `na` had accrued, on memo)
    assert new.interest_written_off_minor == new.interest_accrued_minor - new.interest_paid_minor
    assert new.interest_written_off_minor > na.interest_receivable_minor
    assert new.claim_after_write_off_minor == (na.principal_outstanding_minor + na.fee_receivable_minor
                                               + new.interest_written_off_minor + na.penalty_receivable_minor)
    assert sub_ledger(entries, new) == expected_balances(new)
    assert dataclasses.replace(new, version=0).non_accrual is False
