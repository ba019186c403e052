"""Refunds of money held in suspense: the boundaries (all of it, one unit more, zero, negative),
the statuses (active, closed, written off, approved), the value date, and a property: for random
repayment plans that overpay, the ledger's suspense for the loan equals the loan's suspense at
every step, every entry balances, and refunding everything leaves zero."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lendstack.ledger import AccountCode, BalanceKey, EntryKind, JournalEntry, apply_entries
from lendstack.money import Money
from lendstack.servicing import (
    Loan,
    LoanStatus,
    Outcome,
    ServicingError,
    book,
    disburse,
    eod_one,
    expected_balances,
    prepay,
    refund,
    repay,
    write_off,
)
from tests.servicing.servicing_strategies import loan_balances, new_loans
from tests.servicing.test_servicing_cases import ANYTIME, ON, active, close_to, product, run_to

A = AccountCode
OVERPAID_MINOR = 150_000  # paid ten days after disbursement: nothing is due yet, all of it waits in suspense


def overpaid() -> tuple[Loan, list[JournalEntry]]:
    """An active loan with OVERPAID_MINOR in suspense, and every entry it took (disbursement and the
    end of day of every day before the repayment included)."""
    approved = book("L", product(), Money(1_200_000, "CNY"), 12, on=ON).loan
    disbursed = disburse(approved, ON, "d")
    closed = close_to(disbursed.loan, ON + timedelta(days=9))
    paid = repay(closed.loan, ON + timedelta(days=10), Money(OVERPAID_MINOR, "CNY"), "early")
    assert paid.loan.suspense_minor == OVERPAID_MINOR
    return paid.loan, [*disbursed.entries, *closed.entries, *paid.entries]


def refund_day(loan: Loan) -> date:
    assert loan.accrued_through is not None
    return loan.accrued_through + timedelta(days=1)


def sums_by_currency(e: JournalEntry) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for p in e.postings:
        sums[p.currency] += p.amount_minor
    return dict(sums)


def test_refunding_the_whole_suspense_posts_one_balanced_entry_and_changes_nothing_else() -> None:
    loan, entries = overpaid()
    out = refund(loan, OVERPAID_MINOR, refund_day(loan), "r1")
    assert out.loan.suspense_minor == 0
    assert out.loan == dataclasses.replace(loan, suspense_minor=0)  # nothing else moves
    [posted] = out.entries
    assert posted.kind is EntryKind.REFUND and posted.entry_id == "L/refund/r1" and posted.loan_id == "L"
    assert sums_by_currency(posted) == {"CNY": 0}
    assert {(p.code, p.amount_minor, p.loan_id, p.funder_id) for p in posted.postings} == {
        (A.SUSPENSE, OVERPAID_MINOR, "L", "self"), (A.SETTLEMENT_CASH, -OVERPAID_MINOR, "L", "self")}
    [ev] = out.events
    assert ev.event_type == "loan.refunded" and ev.payload["amount_minor"] == OVERPAID_MINOR
    assert ev.payload["suspense_minor"] == 0 and ev.payload["status"] == "active"
    assert out.result == {"refunded_minor": OVERPAID_MINOR, "suspense_minor": 0}
    balances = apply_entries({}, [*entries, *out.entries])
    assert loan_balances(balances, "L") == expected_balances(out.loan)


def test_a_partial_refund_lowers_suspense_by_exactly_the_amount() -> None:
    loan, _entries = overpaid()
    out = refund(loan, 1, refund_day(loan), "r1")
    assert out.loan.suspense_minor == OVERPAID_MINOR - 1
    again = refund(out.loan, OVERPAID_MINOR - 1, refund_day(loan), "r2")
    assert again.loan.suspense_minor == 0


@pytest.mark.parametrize("amount_minor", [OVERPAID_MINOR + 1, 10**12])
def test_more_than_the_suspense_balance_is_refused_naming_the_balance(amount_minor: int) -> None:
    loan, _entries = overpaid()
    with pytest.raises(ServicingError) as err:
        refund(loan, amount_minor, refund_day(loan), "r1")
    assert err.value.field == "amount_minor"
    assert f"suspense balance of {OVERPAID_MINOR} minor units" in err.value.message
    assert "1500.00 CNY" in err.value.message


@pytest.mark.parametrize("amount_minor", [0, -1, -OVERPAID_MINOR])
def test_a_non_positive_amount_is_refused(amount_minor: int) -> None:
    loan, _entries = overpaid()
    with pytest.raises(ServicingError) as err:
        refund(loan, amount_minor, refund_day(loan), "r1")
    assert err.value.field == "amount_minor" and "positive" in err.value.message


@pytest.mark.parametrize("amount", [True, 1.5, "100"])
def test_an_amount_that_is_not_an_integer_is_refused(amount: object) -> None:
    loan, _entries = overpaid()
    with pytest.raises(ServicingError) as err:
        refund(loan, amount, refund_day(loan), "r1")  # type: ignore[arg-type]
    assert err.value.field == "amount_minor"


def test_another_currency_is_refused() -> None:
    loan, _entries = overpaid()
    with pytest.raises(ServicingError) as err:
        refund(loan, 100, refund_day(loan), "r1", currency="USD")
    assert err.value.field == "currency"
    assert refund(loan, 100, refund_day(loan), "r1", currency="CNY").loan.suspense_minor == OVERPAID_MINOR - 100


def test_a_loan_without_suspense_refunds_nothing() -> None:
    loan = active(product())
    with pytest.raises(ServicingError) as err:
        refund(loan, 1, refund_day(loan), "r1")
    assert err.value.field == "amount_minor" and "suspense balance of 0 minor units" in err.value.message


def test_an_approved_loan_is_refused_as_not_disbursed() -> None:
    approved = book("L", product(), Money(1_200_000, "CNY"), 12, on=ON).loan
    with pytest.raises(ServicingError) as err:
        refund(approved, 1, ON, "r1")
    assert err.value.field == "status"


def test_a_closed_loans_overpayment_is_refunded() -> None:
    loan = run_to(active(product(prepayment=ANYTIME)), ON + timedelta(days=20))
    paid_off = prepay(loan, ON + timedelta(days=21), Money(2_000_000, "CNY"), "payoff", full=True)
    closed = paid_off.loan
    assert closed.status is LoanStatus.CLOSED and closed.suspense_minor > 0
    held = closed.suspense_minor
    later = ON + timedelta(days=400)  # long after closing: a closed loan takes no EOD, its own days stop
    out = refund(closed, held, later, "r1")
    assert out.loan == dataclasses.replace(closed, suspense_minor=0) and out.loan.status is LoanStatus.CLOSED
    [posted] = out.entries
    assert posted.effective_date == later and sums_by_currency(posted) == {"CNY": 0}
    assert {p.code: p.amount_minor for p in posted.postings} == {A.SUSPENSE: held, A.SETTLEMENT_CASH: -held}


def test_a_written_off_loans_suspense_is_still_the_borrowers_and_is_refunded() -> None:
    loan, _entries = overpaid()
    off = write_off(run_to(loan, ON + timedelta(days=11)), ON + timedelta(days=12), "wo").loan
    assert off.status is LoanStatus.WRITTEN_OFF and off.suspense_minor == OVERPAID_MINOR  # write-off leaves it
    out = refund(off, OVERPAID_MINOR, ON + timedelta(days=13), "r1")
    assert out.loan.suspense_minor == 0 and out.loan.status is LoanStatus.WRITTEN_OFF


def test_a_closed_day_takes_no_refund() -> None:
    loan, _entries = overpaid()
    closed = run_to(loan, ON + timedelta(days=12))
    for day in (ON + timedelta(days=12), ON + timedelta(days=3), ON - timedelta(days=1)):
        with pytest.raises(ServicingError) as err:
            refund(closed, 1, day, "r1")
        assert err.value.field == "on", day
    assert refund(closed, 1, ON + timedelta(days=13), "r1").loan.suspense_minor == OVERPAID_MINOR - 1


def test_a_refund_dated_after_the_next_open_day_is_refused_naming_on() -> None:
    """A command no longer closes days itself: a live loan's refund dated past its next open day
    would skip end of day (suspense may pay what fell due), so it is refused."""
    loan, _entries = overpaid()
    for day in (refund_day(loan) + timedelta(days=1), loan.installments[0].due_date + timedelta(days=2)):
        with pytest.raises(ServicingError) as err:
            refund(loan, 1, day, "r1")
        assert err.value.field == "on" and "run end of day first" in err.value.message, day


def test_the_books_last_closed_day_also_holds_for_a_closed_loan() -> None:
    loan = run_to(active(product(prepayment=ANYTIME)), ON + timedelta(days=20))
    closed = prepay(loan, ON + timedelta(days=21), Money(2_000_000, "CNY"), "payoff", full=True).loan
    book_closed = ON + timedelta(days=60)
    with pytest.raises(ServicingError) as err:
        refund(closed, 1, book_closed, "r1", closed_through=book_closed)
    assert err.value.field == "on" and "closed through" in err.value.message
    assert refund(closed, 1, book_closed + timedelta(days=1), "r1", closed_through=book_closed).loan.suspense_minor \
        == closed.suspense_minor - 1


def test_a_refund_after_a_due_date_refunds_what_suspense_left_after_paying_what_fell_due() -> None:
    """End of day on the due date lets suspense pay the installment; a refund after it refunds
    only what is left (the refund itself no longer closes the days: end of day does)."""
    loan, entries = overpaid()
    due = loan.installments[0].due_date
    first_due_minor = loan.installments[0].principal_minor + loan.installments[0].interest_minor
    on = due + timedelta(days=2)
    caught_up = close_to(loan, on - timedelta(days=1))
    left = caught_up.loan.suspense_minor
    assert left == OVERPAID_MINOR - first_due_minor and not caught_up.loan.installments[0].is_open
    with pytest.raises(ServicingError) as err:
        refund(caught_up.loan, OVERPAID_MINOR, on, "r1")
    assert err.value.field == "amount_minor" and f"balance of {left} minor units" in err.value.message
    out = refund(caught_up.loan, left, on, "r1")
    assert out.loan == dataclasses.replace(caught_up.loan, suspense_minor=0)
    [posted] = out.entries
    assert posted.kind is EntryKind.REFUND and sums_by_currency(posted) == {"CNY": 0}
    balances = apply_entries({}, [*entries, *caught_up.entries, *out.entries])
    assert suspense_of(balances, "L") == 0 and loan_balances(balances, "L") == expected_balances(out.loan)


# --- property: random overpaying plans --------------------------------------------------------------

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# One step per day: ("pay", per-mille of an installment) | ("refund", per-mille of the suspense) | ("none", _).
steps = st.lists(st.tuples(st.sampled_from(["none", "none", "pay", "pay", "refund"]), st.integers(1, 3000)),
                 min_size=5, max_size=120)


def suspense_of(balances: dict[BalanceKey, int], loan_id: str) -> int:
    """The ledger's suspense for the loan, as a positive amount held (the account is credit-normal)."""
    return -sum(v for k, v in balances.items() if k.code is A.SUSPENSE and k.loan_id == loan_id)


def apply_step(loan: Loan, day: date, kind: str, permille: int, key: str) -> Outcome | None:
    if kind == "pay" and loan.is_live:
        installment_minor = max(1, loan.principal_minor // max(loan.term, 1))
        return repay(loan, day, Money(max(1, installment_minor * permille // 1000), loan.currency), key)
    if kind == "refund" and loan.suspense_minor > 0:
        return refund(loan, max(1, loan.suspense_minor * min(permille, 1000) // 1000), day, key)
    return None


@PROPERTY
@given(new_loans("P"), steps, st.integers(1, 5))
def test_suspense_in_the_ledger_equals_the_loans_at_every_step(loan: Loan, plan: list[tuple[str, int]],
                                                                overpay_installments: int) -> None:
    assert loan.disbursed_on is not None
    approved = loan.evolve(status=LoanStatus.APPROVED, disbursed_on=None, installments=(), principal_disbursed_minor=0,
                           accrued_through=None)
    entries = list(disburse(approved, loan.disbursed_on, "d").entries)
    # Overpay on day one: more than the first installments, so there is always suspense to refund.
    pay = loan.principal_minor // max(loan.term, 1) * overpay_installments + 1
    start = repay(loan, loan.disbursed_on, Money(pay, loan.currency), "overpay")
    first_day = eod_one(start.loan, loan.disbursed_on)
    loan, entries = first_day.loan, entries + list(start.entries) + list(first_day.entries)
    for offset, (kind, permille) in enumerate(plan, start=1):
        day = loan.disbursed_on + timedelta(days=offset)
        try:
            out = apply_step(loan, day, kind, permille, f"{kind}-{offset}")
        except ServicingError:
            out = None  # a refused command changes nothing
        if out is not None:
            loan, entries = out.loan, entries + list(out.entries)
        closed_day = eod_one(loan, day)
        loan, entries = closed_day.loan, entries + list(closed_day.entries)
        assert all(sums_by_currency(e) == dict.fromkeys(sums_by_currency(e), 0) for e in entries)
        balances = apply_entries({}, entries)
        assert suspense_of(balances, loan.loan_id) == loan.suspense_minor
        assert loan_balances(balances, loan.loan_id) == expected_balances(loan)
    last_day = loan.disbursed_on + timedelta(days=len(plan) + 1)
    if loan.suspense_minor > 0:
        before = loan.suspense_minor
        out = refund(loan, before, last_day, "all")
        assert out.loan.suspense_minor == 0
        assert out.entries[-1].kind is EntryKind.REFUND
        assert {p.code: p.amount_minor for p in out.entries[-1].postings} == {A.SUSPENSE: before,
                                                                              A.SETTLEMENT_CASH: -before}
        loan, entries = out.loan, entries + list(out.entries)
    balances = apply_entries({}, entries)
    assert loan.suspense_minor == 0 and suspense_of(balances, loan.loan_id) == 0
    assert loan_balances(balances, loan.loan_id) == expected_balances(loan)
