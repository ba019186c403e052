"""Property: whatever balanced entries are posted, in whatever batches, the stored running
balances equal the pure reference (`apply_entries`) and SUM(postings), and every currency's
trial balance is zero.

Runs on both backends. Hypothesis reuses the function's one database for all its examples, so
each example starts by emptying the ledger tables (cheaper than a database per example, and it
keeps PostgreSQL in the property test). Examples are kept modest: max_examples=30.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from lendstack.ledger import MEMO_CODES, AccountCode, EntryKind, JournalEntry, Posting, apply_entries, trial_balance
from lendstack.store import UnitOfWork, columns_from_entries
from lendstack.store.tables import journal_entries, ledger_balances, postings

CURRENCIES = ["CNY", "USD", "JPY"]
LOANS = ["", "L1", "L2", "L3"]
FUNDERS = ["self", "F1"]
START = date(2025, 1, 1)


ON_BALANCE = [code for code in AccountCode if code not in MEMO_CODES]
MEMO = sorted(MEMO_CODES)


@st.composite
def balanced_postings(draw: st.DrawFn) -> tuple[Posting, ...]:
    """1-3 currencies; in each, some debits/credits plus one line that makes the sum zero, on the
    balance sheet and, sometimes, on the memo accounts too (memo lines balance on their own)."""
    out: list[Posting] = []
    for currency in draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3, unique=True)):
        for codes in [ON_BALANCE] + ([MEMO] if draw(st.booleans()) else []):
            for amount in balanced_amounts(draw):
                code = draw(st.sampled_from(codes))
                out.append(
                    Posting(code, currency, amount, draw(st.sampled_from(LOANS)), draw(st.sampled_from(FUNDERS)))
                )
    return tuple(out)


def balanced_amounts(draw: st.DrawFn) -> list[int]:
    amounts = draw(st.lists(st.integers(-(10**9), 10**9).filter(bool), min_size=1, max_size=4))
    if sum(amounts) == 0:
        amounts.append(draw(st.integers(1, 10**6)))
        amounts.append(-amounts[-1])
    else:
        amounts.append(-sum(amounts))
    return amounts


@st.composite
def entry_batches(draw: st.DrawFn) -> list[list[JournalEntry]]:
    n = draw(st.integers(1, 12))
    entries = [
        JournalEntry(
            f"e{i}",
            draw(st.sampled_from(list(EntryKind))),
            START + timedelta(days=draw(st.integers(0, 30))),
            draw(balanced_postings()),
            loan_id=draw(st.sampled_from(LOANS)),
        )
        for i in range(n)
    ]
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
    bounds = [0, *cuts, n]
    return [entries[a:b] for a, b in pairwise(bounds)]


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (postings, journal_entries, ledger_balances):
            conn.execute(delete(table))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=entry_batches(), as_of_days=st.integers(0, 30))
def test_running_balances_equal_reference_and_sum_of_postings(
    engine: Engine, batches: list[list[JournalEntry]], as_of_days: int
) -> None:
    _reset(engine)
    for index, batch in enumerate(batches):
        with UnitOfWork(engine) as u:
            if index % 2:
                u.ledger.post_columnar(*columns_from_entries(batch))
            else:
                u.ledger.post(batch)
    everything = [e for batch in batches for e in batch]
    expected = apply_entries({}, everything)
    as_of = START + timedelta(days=as_of_days)
    with UnitOfWork(engine) as u:
        assert u.ledger.all_balances() == expected
        assert u.ledger.verify() == []  # stored running balances == SUM(postings), entries balance
        totals = u.ledger.trial_balance()
        assert {k: v for k, v in totals.items() if v} == {
            k: v for k, v in trial_balance(expected).items() if v
        }
        per_currency: dict[str, int] = defaultdict(int)
        for (currency, _code), amount in totals.items():
            per_currency[currency] += amount
        assert all(v == 0 for v in per_currency.values())
        expected_as_of = apply_entries({}, everything, as_of=as_of)
        for key in list(expected)[:5]:
            assert u.ledger.balance(key, as_of=as_of) == expected_as_of.get(key, 0)
