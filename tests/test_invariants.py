"""The always-on invariant helper, and the proof that money, ledger and servicing invariants still
hold under `python -O` (which strips every `assert`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lendstack.invariants import InvariantError, check
from lendstack.ledger import AccountCode, Posting


def test_check_passes_and_raises() -> None:
    check(True, "never raised")
    with pytest.raises(InvariantError, match="the message"):
        check(False, "the message")


def test_an_invariant_error_is_an_assertion_error() -> None:
    # Callers and tests that expected the AssertionError of the old `assert` keep working.
    assert issubclass(InvariantError, AssertionError)
    with pytest.raises(AssertionError, match="a zero posting carries no information"):
        Posting(AccountCode.SETTLEMENT_CASH, "CNY", 0)


# Run in a fresh `python -O`: `assert` is gone there, so only always-on checks can refuse these.
_UNDER_O = textwrap.dedent("""
    import dataclasses, sys
    from datetime import date
    from lendstack.invariants import InvariantError
    from lendstack.ledger import AccountCode, EntryKind, JournalEntry, LedgerError, Posting
    from lendstack.ledger.balances import trial_balance
    from lendstack.ledger.accounts import BalanceKey
    from lendstack.money import Money
    from lendstack.products import get_product
    from lendstack.schedule import ScheduleLine
    from lendstack.servicing import book
    from lendstack.servicing.loan import check_loan_invariants

    assert sys.flags.optimize >= 1 and not __debug__, "not running under python -O"
    assert False, "asserts must be stripped here"  # proves the asserts are gone

    def refused(fn, error):
        try:
            fn()
        except error as exc:
            return type(exc).__name__
        raise SystemExit("NOT REFUSED: " + fn.__name__)

    def unbalanced():
        JournalEntry("e1", EntryKind.REPAY, date(2026, 1, 2),
                     (Posting(AccountCode.SETTLEMENT_CASH, "CNY", 100), Posting(AccountCode.SUSPENSE, "CNY", -99)))

    def zero_posting():
        Posting(AccountCode.SETTLEMENT_CASH, "CNY", 0)

    def float_posting():
        Posting(AccountCode.SETTLEMENT_CASH, "CNY", 1.5)

    def trial_balance_off():
        trial_balance({BalanceKey(AccountCode.SETTLEMENT_CASH, "CNY", "self", ""): 5})

    def dates_out_of_order():
        ScheduleLine(1, date(2026, 1, 2), date(2026, 2, 2), 100, 1, 0, 101, 0)

    loan = book("L1", get_product("consumer_cny_12m"), Money(100_000, "CNY"), 12,
                rate_annual="0.12", on=date(2026, 1, 2)).loan

    def negative_suspense():
        check_loan_invariants(dataclasses.replace(loan, suspense_minor=-1))

    print(refused(unbalanced, LedgerError), refused(zero_posting, InvariantError),
          refused(float_posting, InvariantError), refused(trial_balance_off, InvariantError),
          refused(negative_suspense, InvariantError), refused(dates_out_of_order, InvariantError))
""")


def test_invariants_hold_under_python_dash_o() -> None:
    done = subprocess.run([sys.executable, "-O", "-c", _UNDER_O], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.split() == ["LedgerError", *["InvariantError"] * 5]
