"""SqlLedger on both backends: posting, balances, as-of dates, atomicity, reversal, verify, bulk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine, func, select, text

from lendstack.events import DomainEvent
from lendstack.ledger import (
    AccountCode,
    BalanceKey,
    EntryKind,
    JournalEntry,
    LedgerError,
    Posting,
    apply_entries,
    reversal_of,
)
from lendstack.store import EntryColumns, PostingColumns, UnitOfWork, columns_from_entries
from lendstack.store.tables import journal_entries, ledger_balances, outbox, postings

A = AccountCode
D1, D2, D3 = date(2025, 1, 1), date(2025, 1, 15), date(2025, 2, 1)


def disburse(entry_id: str, loan_id: str, amount_minor: int, day: date = D1) -> JournalEntry:
    return JournalEntry(
        entry_id,
        EntryKind.DISBURSE,
        day,
        (
            Posting(A.LOAN_PRINCIPAL, "CNY", amount_minor, loan_id),
            Posting(A.SETTLEMENT_CASH, "CNY", -amount_minor),
        ),
        loan_id=loan_id,
        metadata={"channel": "app"},
    )


def accrue(entry_id: str, loan_id: str, amount_minor: int, day: date) -> JournalEntry:
    return JournalEntry(
        entry_id,
        EntryKind.ACCRUE_INTEREST,
        day,
        (
            Posting(A.INTEREST_RECEIVABLE, "CNY", amount_minor, loan_id),
            Posting(A.INTEREST_INCOME, "CNY", -amount_minor, loan_id),
        ),
        loan_id=loan_id,
    )


def count_rows(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (journal_entries, postings, ledger_balances, outbox)
        )


def test_post_updates_balances_and_trial_balance_is_zero(uow: Callable[[], UnitOfWork]) -> None:
    entries = [disburse("e1", "L1", 100_000), accrue("e2", "L1", 55, D2), disburse("e3", "L2", 7_00)]
    with uow() as u:
        u.ledger.post(entries)
    with uow() as u:
        assert u.ledger.balance(BalanceKey(A.LOAN_PRINCIPAL, "CNY", "self", "L1")) == 100_000
        assert u.ledger.balance(BalanceKey(A.SETTLEMENT_CASH, "CNY", "self", "")) == -100_700
        assert u.ledger.balances_for_loan("L1") == {
            k: v for k, v in apply_entries({}, entries).items() if k.loan_id == "L1"
        }
        totals = u.ledger.trial_balance()
        assert sum(totals.values()) == 0
        assert totals[("CNY", A.INTEREST_INCOME)] == -55
        assert u.ledger.verify() == []


def test_balance_as_of_a_date_sums_postings_up_to_it(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.ledger.post(
            [disburse("e1", "L1", 1000, D1), accrue("e2", "L1", 10, D2), accrue("e3", "L1", 11, D3)]
        )
    key = BalanceKey(A.INTEREST_RECEIVABLE, "CNY", "self", "L1")
    with uow() as u:
        assert u.ledger.balance(key, as_of=date(2024, 12, 31)) == 0
        assert u.ledger.balance(key, as_of=D1) == 0
        assert u.ledger.balance(key, as_of=D2) == 10
        assert u.ledger.balance(key, as_of=D3) == 21
        assert u.ledger.balance(key) == 21
        assert u.ledger.trial_balance(as_of=D2)[("CNY", A.INTEREST_INCOME)] == -10


def test_entries_for_loan_round_trip(uow: Callable[[], UnitOfWork]) -> None:
    entries = [disburse("e1", "L1", 1000, D1), accrue("e3", "L1", 11, D3), accrue("e2", "L1", 10, D2)]
    with uow() as u:
        u.ledger.post([*entries, disburse("x", "L2", 5)])
        got = u.ledger.entries_for_loan("L1")
    assert got == (entries[0], entries[2], entries[1])  # by effective date
    assert got[0].metadata == {"channel": "app"}


def test_unbalanced_entry_inside_a_unit_of_work_writes_nothing(engine: Engine) -> None:
    good = disburse("e1", "L1", 1000)
    bad = disburse("e2", "L1", 500)
    object.__setattr__(bad, "postings", (bad.postings[0], Posting(A.SETTLEMENT_CASH, "CNY", -499)))
    with pytest.raises(LedgerError, match="does not balance"), UnitOfWork(engine) as u:
        u.outbox.add(DomainEvent.new("loan.disbursed", "loan", "L1"))
        u.ledger.post([good])  # written inside the transaction ...
        u.ledger.post([bad])  # ... and rolled back with it
    assert count_rows(engine) == (0, 0, 0, 0)


def test_columnar_batch_is_validated_before_any_write(engine: Engine) -> None:
    entries = EntryColumns(["a", "b"], ["accrue_interest"] * 2, [D1, D1], ["L1", "L2"])
    cols = PostingColumns(
        [0, 0, 1, 1],
        ["1311", "6011", "1311", "6011"],
        ["CNY"] * 4,
        [5, -5, 7, -6],
        ["L1", "L1", "L2", "L2"],
        ["self"] * 4,
    )
    with pytest.raises(LedgerError, match="entry b does not balance in CNY"), UnitOfWork(engine) as u:
        u.ledger.post_columnar(entries, cols)
    assert count_rows(engine) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("entry_index", {"entry_index": [0, 0, 0, 1]}),
        ("account_code", {"codes": ["1311", "9999", "1311", "6011"]}),
        ("amount_minor", {"amounts_minor": [0, 0, 7, -7]}),
        ("entry_index", {"entry_index": [1, 1, 0, 0]}),
    ],
)
def test_columnar_errors_name_the_field(engine: Engine, field: str, change: dict[str, list[object]]) -> None:
    base: dict[str, list[object]] = {
        "entry_index": [0, 0, 1, 1],
        "codes": ["1311", "6011", "1311", "6011"],
        "currencies": ["CNY"] * 4,
        "amounts_minor": [5, -5, 7, -7],
        "loan_ids": ["L1"] * 4,
        "funder_ids": ["self"] * 4,
    }
    cols = PostingColumns(**{**base, **change})  # type: ignore[arg-type]
    entries = EntryColumns(["a", "b"], ["accrue_interest"] * 2, [D1, D1], ["L1", "L1"])
    with pytest.raises(LedgerError) as caught, UnitOfWork(engine) as u:
        u.ledger.post_columnar(entries, cols)
    assert caught.value.field in (field, "postings")


def test_reversal_restores_balances(uow: Callable[[], UnitOfWork]) -> None:
    original = accrue("e2", "L1", 42, D2)
    with uow() as u:
        u.ledger.post([disburse("e1", "L1", 1000), original])
        before = u.ledger.balances_for_loan("L1")
    with uow() as u:
        u.ledger.post([reversal_of(original, "e2-rev", D3)])
    with uow() as u:
        after = u.ledger.balances_for_loan("L1")
        assert after == {
            k: v for k, v in before.items() if k.code not in (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME)
        }
        assert u.ledger.entries_for_loan("L1")[-1].reverses_entry_id == "e2"
        assert u.ledger.verify() == []


def test_verify_detects_a_tampered_balance_row(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.ledger.post([disburse("e1", "L1", 1000)])
    with uow() as u:
        u.connection.execute(text("UPDATE ledger_balances SET balance_minor = 999 WHERE loan_id = 'L1'"))
    with uow() as u:
        problems = u.ledger.verify()
    assert [(p.problem, p.key, p.stored_minor, p.expected_minor) for p in problems] == [
        ("balance", BalanceKey(A.LOAN_PRINCIPAL, "CNY", "self", "L1"), 999, 1000)
    ]


def test_verify_detects_a_tampered_posting(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.ledger.post([disburse("e1", "L1", 1000)])
    with uow() as u:
        u.connection.execute(text("UPDATE postings SET amount_minor = 1001 WHERE loan_id = 'L1'"))
    with uow() as u:
        problems = {p.problem for p in u.ledger.verify()}
    assert problems == {"balance", "unbalanced_entry"}


def _table_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row except booking timestamps (which differ between two runs)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as conn:
        for table, skip, order in (
            (journal_entries, {"booked_at"}, journal_entries.c.entry_id),
            (postings, set(), postings.c.id),
            (ledger_balances, {"updated_at"}, ledger_balances.primary_key.columns.values()),
        ):
            cols = [c for c in table.c if c.name not in skip]
            order_by = order if isinstance(order, list) else [order]
            out[table.name] = [tuple(r) for r in conn.execute(select(*cols).order_by(*order_by))]
    return out


def test_columnar_bulk_post_equals_per_entry_post(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> None:
    from lendstack.store.db import make_engine, upgrade

    entries = [disburse(f"d{i}", f"L{i % 7}", 1000 + i) for i in range(20)]
    entries += [accrue(f"a{i}", f"L{i % 7}", 1 + i % 3, D2) for i in range(200)]
    entries.append(reversal_of(entries[25], "r1", D3))
    with UnitOfWork(engine) as u:
        for entry in entries:
            u.ledger.post([entry])
    bulk = make_engine(f"sqlite:///{tmp_path_factory.mktemp('bulk') / 'bulk.db'}")
    upgrade(bulk)
    with UnitOfWork(bulk) as u:
        assert u.ledger.post_columnar(*columns_from_entries(entries)) == len(entries)
    assert _table_rows(bulk) == _table_rows(engine)
    bulk.dispose()


def test_bulk_paths_of_every_backend_equal_per_entry_post_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reverse direction, with PostgreSQL's temp-table balance upsert forced on."""
    from lendstack.store import ledger_repo
    from lendstack.store.db import make_engine, upgrade

    monkeypatch.setattr(ledger_repo, "PG_BALANCE_KEYS_VIA_TEMP_TABLE_MIN", 0)
    entries = [disburse(f"d{i}", f"L{i % 5}", 500 + i) for i in range(10)]
    entries += [accrue(f"a{i}", f"L{i % 5}", 2 + i % 4, D2) for i in range(50)]
    reference = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    upgrade(reference)
    with UnitOfWork(reference) as u:
        for entry in entries:
            u.ledger.post([entry])
    with UnitOfWork(engine) as u:
        u.ledger.post_columnar(*columns_from_entries(entries[:30]))
        u.ledger.post_columnar(*columns_from_entries(entries[30:]))  # twice in one transaction
    assert _table_rows(engine) == _table_rows(reference)
    reference.dispose()
