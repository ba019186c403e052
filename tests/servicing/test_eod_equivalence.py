"""The columnar EOD equals the one-loan reference, to the minor unit, on random books; and the
servicing invariants hold after any random sequence of commands and EOD days."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lendstack.ledger import JournalEntry, trial_balance
from lendstack.servicing import Loan, eod_book, eod_one, expected_balances
from tests.servicing.servicing_strategies import (
    actions,
    ledger_of,
    loan_balances,
    new_loans,
    try_command,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def books(draw: st.DrawFn) -> tuple[list[Loan], list[list[tuple[str, int]]]]:
    n = draw(st.integers(1, 6))
    loans = [draw(new_loans(f"L{k}")) for k in range(n)]
    days = draw(st.integers(20, 160))
    plan = [[draw(actions)[0] for _ in range(n)] for _ in range(days)]
    return loans, plan


def run(loans: list[Loan], plan: list[list[tuple[str, int]]], columnar: bool) -> tuple[list[Loan], list[JournalEntry]]:
    """Drive the book day by day: commands first, then EOD (reference or columnar)."""
    entries: list[JournalEntry] = []
    first = min(loan.disbursed_on for loan in loans if loan.disbursed_on is not None)
    for offset, todays in enumerate(plan):
        day = first + timedelta(days=offset)
        for k, (kind, permille) in enumerate(todays):
            out = try_command(loans[k], day, kind, permille, f"{kind}-{offset}")
            if out is not None:
                loans[k] = out.loan
                entries += out.entries
        due = [k for k, loan in enumerate(loans) if loan.accrued_through == day - timedelta(days=1)]
        outs = eod_book([loans[k] for k in due], day) if columnar else [eod_one(loans[k], day) for k in due]
        for k, out in zip(due, outs, strict=True):
            loans[k] = out.loan
            entries += out.entries
    return loans, entries


def disbursements(loans: list[Loan]) -> list[JournalEntry]:
    from lendstack.servicing import disburse
    from lendstack.servicing.loan import LoanStatus

    out = []
    for loan in loans:
        approved = loan.evolve(status=LoanStatus.APPROVED, disbursed_on=None, installments=(),
                               principal_disbursed_minor=0, accrued_through=None)
        assert loan.disbursed_on is not None
        out += disburse(approved, loan.disbursed_on, "d").entries
    return out


@SETTINGS
@given(books())
def test_columnar_eod_equals_reference(book_and_plan: tuple[list[Loan], list[list[tuple[str, int]]]]) -> None:
    loans, plan = book_and_plan
    ref_loans, ref_entries = run(list(loans), plan, columnar=False)
    col_loans, col_entries = run(list(loans), plan, columnar=True)
    assert col_loans == ref_loans
    assert col_entries == ref_entries


@SETTINGS
@given(books())
def test_ledger_matches_subledger_after_random_commands(
    book_and_plan: tuple[list[Loan], list[list[tuple[str, int]]]],
) -> None:
    loans, plan = book_and_plan
    final, entries = run(list(loans), plan, columnar=True)
    balances = ledger_of(disbursements(loans) + entries)
    trial_balance(balances)  # asserts every currency sums to zero
    for loan in final:
        assert loan_balances(balances, loan.loan_id) == expected_balances(loan)
        # outstanding principal = disbursed + capitalized − repaid − written off
        assert loan.principal_outstanding_minor == (
            loan.principal_disbursed_minor + loan.principal_capitalized_minor
            - loan.principal_repaid_minor - loan.principal_written_off_minor
        )


@SETTINGS
@given(books())
def test_eod_twice_equals_once(book_and_plan: tuple[list[Loan], list[list[tuple[str, int]]]]) -> None:
    loans, plan = book_and_plan
    final, _ = run(list(loans), plan, columnar=True)
    for loan in final:
        if loan.accrued_through is None:
            continue
        again = eod_one(loan, loan.accrued_through)
        assert again.loan == loan and again.entries == ()
        assert eod_book([loan], loan.accrued_through)[0].entries == ()
