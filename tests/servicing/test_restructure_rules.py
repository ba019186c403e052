"""Restructuring by the rules: the product's rate band, term range and APR cap; the 2023 rule on the
classification of restructured loans (at least 关注, at least 次级 if non-performing before, an
observation period of at least two due dates and a year, arrears in it put the loan at 次级 and
start it again); due dates keep the contract's day of month; and non-accrual interest capitalised
is unearned, never income."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lendstack.ledger import AccountCode, EntryKind, JournalEntry, apply_entries
from lendstack.money import Money
from lendstack.products import LoanProduct, get_product
from lendstack.servicing import FiveTier, Loan, ServicingError, book, disburse, expected_balances, repay
from lendstack.servicing.loan import SUBLEDGER_CODES
from lendstack.servicing.restructure import restructure
from tests.servicing.servicing_strategies import close_days as run_to

A = AccountCode
ON = date(2026, 1, 31)


def product() -> LoanProduct:
    return get_product("consumer_cny_12m")


def start(on: date = ON) -> tuple[Loan, list[JournalEntry]]:
    out = disburse(book("L", product(), Money(1_200_000, "CNY"), 12, on=on).loan, on, "d")
    return out.loan, list(out.entries)




def sub_ledger(entries: list[JournalEntry], loan: Loan) -> dict[object, int]:
    return {k: v for k, v in apply_entries({}, entries).items() if k.code in SUBLEDGER_CODES}


@pytest.mark.parametrize(("term", "rate", "field"), [
    (12, "0.99", "rate_annual"),  # 99 % a year: outside the band (and the legal cap)
    (12, "0.01", "rate_annual"),  # below the product's floor
    (999, None, "term"),  # beyond the product's longest term
    (0, None, "term"),
])
def test_rate_and_term_are_checked_against_the_product(term: int, rate: str | None, field: str) -> None:
    loan, entries = start()
    late = run_to(loan, entries, ON + timedelta(days=60))
    with pytest.raises(ServicingError) as err:
        restructure(late, ON + timedelta(days=61), term, "r", rate_annual=rate, product=product())
    assert err.value.field == field


def test_the_apr_cap_holds_for_a_restructure_too() -> None:
    capped = product().model_copy(update={"rate_max_annual": get_product("consumer_cny_12m").rate_cap_apr,
                                          "rate_cap_apr": product().rate_annual})
    loan, entries = start()
    late = run_to(loan, entries, ON + timedelta(days=60))
    with pytest.raises(ServicingError) as err:
        restructure(late, ON + timedelta(days=61), 12, "r", rate_annual=str(capped.rate_max_annual), product=capped)
    assert err.value.field == "rate_annual" and "cap" in err.value.message.lower()


def test_a_performing_loan_becomes_special_mention_for_an_observation_period() -> None:
    loan, entries = start()
    late = run_to(loan, entries, ON + timedelta(days=45))  # 17 DPD: 关注 already, performing
    day = ON + timedelta(days=46)
    out = restructure(late, day, 12, "r", product=product())
    new = out.loan
    assert new.five_tier is FiveTier.SPECIAL_MENTION and new.observation_floor is FiveTier.SPECIAL_MENTION
    first_new_due = next(i.due_date for i in new.installments if not i.capitalized and i.due_date > day)
    # From the first due date after the restructure: at least two due dates and at least a year.
    assert new.observation_end == first_new_due + timedelta(days=365)
    # The restructure's own answer and the next end of day agree.
    assert run_to(new, entries, day + timedelta(days=1)).five_tier is FiveTier.SPECIAL_MENTION
    # Due dates keep the contract's day of month (the loan started on Jan 31: month ends).
    new_dues = [i.due_date for i in new.installments if not i.capitalized and i.due_date > day][:4]
    assert all((d + timedelta(days=1)).day == 1 for d in new_dues), new_dues


def test_a_non_performing_loan_is_at_least_substandard_and_arrears_restart_the_observation() -> None:
    loan, entries = start()
    npl = run_to(loan, entries, ON + timedelta(days=130))  # > 90 DPD: 次级, non-accrual
    assert npl.five_tier is FiveTier.SUBSTANDARD and npl.non_accrual
    day = ON + timedelta(days=131)
    done = restructure(npl, day, 12, "r", product=product())
    new, entries = done.loan, entries + list(done.entries)
    assert new.five_tier is FiveTier.SUBSTANDARD and new.days_past_due == 0
    assert new.non_accrual, "non-performing: still not accruing until it qualifies again"
    first_due = next(i for i in new.installments if not i.capitalized and i.due_date > day)
    late = run_to(new, entries, first_due.due_date + timedelta(days=3))
    assert late.observation_missed and late.five_tier is FiveTier.SUBSTANDARD
    cure_day = first_due.due_date + timedelta(days=4)
    cured = repay(late, cure_day, Money(first_due.principal_minor + first_due.interest_minor + 10_000, "CNY"), "c")
    entries += cured.entries
    after = run_to(cured.loan, entries, cure_day)
    assert after.days_past_due == 0 and not after.observation_missed
    assert after.observation_end is not None and after.observation_end >= cure_day + timedelta(days=365)
    assert after.five_tier is FiveTier.SUBSTANDARD
    assert sub_ledger(entries, after) == expected_balances(after)


def test_the_observation_met_with_no_arrears_lifts_the_floor() -> None:
    loan, entries = start()
    late = run_to(loan, entries, ON + timedelta(days=45))
    day = ON + timedelta(days=46)
    new = restructure(late, day, 24, "r", product=product()).loan  # 24 months: it outlives the observation
    assert new.observation_end is not None
    # Pay every installment on its due date through the end of the observation.
    cur = new
    for inst in [i for i in new.installments if not i.capitalized and i.due_date > day]:
        if inst.due_date > new.observation_end:
            break
        cur = run_to(cur, entries, inst.due_date - timedelta(days=1))
        out = repay(cur, inst.due_date, Money(inst.principal_minor + inst.interest_minor + inst.fee_minor, "CNY"),
                    f"p{inst.seq}")
        cur, entries = out.loan, entries + list(out.entries)
    before_end = run_to(cur, entries, new.observation_end - timedelta(days=1))
    assert before_end.five_tier is FiveTier.SPECIAL_MENTION and before_end.in_observation
    at_end = run_to(before_end, entries, new.observation_end)
    assert not at_end.in_observation and at_end.five_tier is FiveTier.NORMAL


def test_non_accrual_interest_capitalised_is_unearned_and_never_income() -> None:
    loan, entries = start()
    npl = run_to(loan, entries, ON + timedelta(days=130))
    memo = npl.interest_memo_minor + npl.penalty_memo_minor
    out = restructure(npl, ON + timedelta(days=131), 12, "r", product=product())
    entries += out.entries
    lines = {p.code: p.amount_minor for e in out.entries if e.kind is EntryKind.RESTRUCTURE for p in e.postings}
    interest_today = out.loan.interest_capitalized_minor - npl.interest_receivable_minor
    assert lines[A.UNEARNED_CAPITALISED] == -(memo + interest_today)
    assert A.INTEREST_INCOME not in lines and A.PENALTY_INCOME not in lines
    assert out.loan.unearned_minor == memo + interest_today
    assert sub_ledger(entries, out.loan) == expected_balances(out.loan)
