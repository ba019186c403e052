"""Migration 0013's backfill, on SQLite and PostgreSQL: a book migrated to 0012 (no business date, no
due_day) gets, at head, the business date end of day would close next (the day after the earliest
day every live loan is closed through) and each disbursed loan's due_day from its disbursement
date; a book with no loans gets none. A real book made at head and copied into the 0012 schema goes
on after the upgrade exactly as the original does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, func, insert, inspect, select, text
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.services.business_date import business_date
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan, reverse_loan_payment, summary
from lendstack.servicing import ServicingError
from lendstack.store import UnitOfWork
from lendstack.store.db import downgrade, make_engine, upgrade
from lendstack.store.reconcile_repo import reconcile_loans
from lendstack.store.tables import journal_entries, ledger_balances, loan_commands, loans, postings

DISBURSED = date(2026, 1, 31)  # the 31st: due_day 31, which no later due date's day of month gives back
CLOSED_THROUGH = date(2026, 3, 5)
NEW_COLUMNS = {"booked_on", "due_day", "non_accrual", "unearned_minor", "recovered_minor", "observation_floor",
               "observation_end", "observation_missed", "obs_end_day"}


def at_0012(engine: Engine) -> None:
    """The test's database, taken back to revision 0012 (before the business date existed)."""
    downgrade(engine, "0012")
    found = inspect(engine)
    assert "book_state" not in found.get_table_names() and "loan_commands" not in found.get_table_names()
    assert not NEW_COLUMNS & {c["name"] for c in found.get_columns("loans")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0012"


def reflected(engine: Engine, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=engine)


def loan_row(loan_id: str, status: str, disbursed_on: date | None, accrued_through: date | None) -> dict[str, Any]:
    """A loans row as revision 0012 stores it (the columns the backfill reads, and the required rest)."""
    return {"loan_id": loan_id, "product_id": "consumer_cny_12m", "currency": "CNY", "funder_id": "self",
            "status": status, "terms": {"product_id": "consumer_cny_12m"}, "principal_minor": 1_200_000, "term": 12,
            "upfront_fee_minor": 0, "periodic_fee_minor": 0, "disbursed_on": disbursed_on,
            "accrued_through": accrued_through, "version": 1, "updated_at": datetime.now(UTC)}


def entry_row(entry_id: str, day: date) -> dict[str, Any]:
    return {"entry_id": entry_id, "kind": "capital", "effective_date": day, "booked_at": datetime.now(UTC),
            "loan_id": "", "memo": "", "reverses_entry_id": "", "metadata": {}}


def fill(engine: Engine, loan_rows: list[dict[str, Any]], entry_rows: list[dict[str, Any]]) -> None:
    tables = {name: reflected(engine, name) for name in ("loans", "journal_entries")}  # before the write lock
    with engine.begin() as conn:
        if loan_rows:
            conn.execute(insert(tables["loans"]), loan_rows)
        if entry_rows:
            conn.execute(insert(tables["journal_entries"]), entry_rows)


def due_days(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(k): int(v) for k, v in conn.execute(select(loans.c.loan_id, loans.c.due_day))}


# --------------------------------------------------------------------------- rows made by hand


@pytest.mark.parametrize(("loan_rows", "entry_days", "expected"), [
    pytest.param(  # the earliest live loan decides; closed and written-off loans do not
        [loan_row("A", "active", DISBURSED, CLOSED_THROUGH), loan_row("B", "overdue", date(2026, 2, 15),
                                                                      date(2026, 3, 7)),
         loan_row("C", "closed", date(2025, 12, 1), date(2026, 3, 20)),
         loan_row("D", "written_off", date(2025, 11, 9), date(2026, 2, 1)),
         loan_row("E", "approved", None, None)],
        [date(2026, 3, 21)], CLOSED_THROUGH + timedelta(days=1), id="live-loans"),
    pytest.param(  # no live loan: the day after the last day any loan was closed through ...
        [loan_row("C", "closed", date(2025, 12, 1), date(2026, 3, 20)),
         loan_row("D", "written_off", date(2025, 11, 9), date(2026, 2, 1))],
        [date(2026, 3, 15)], date(2026, 3, 21), id="no-live-loan"),
    pytest.param(  # ... or the day of a later entry (that day may still be open)
        [loan_row("C", "closed", date(2025, 12, 1), date(2026, 3, 20))],
        [date(2026, 3, 25), date(2026, 1, 2)], date(2026, 3, 25), id="a-later-entry"),
    pytest.param([], [], None, id="no-loans"),
    pytest.param([loan_row("E", "approved", None, None)], [], None, id="only-an-approved-loan"),
])
def test_the_backfill_gives_the_business_date_and_due_days(engine: Engine, loan_rows: list[dict[str, Any]],
                                                           entry_days: list[date], expected: date | None) -> None:
    at_0012(engine)
    fill(engine, loan_rows, [entry_row(f"cap-{i}", d) for i, d in enumerate(entry_days)])
    upgrade(engine)
    assert business_date(engine) == expected
    with engine.connect() as conn:
        rows = int(conn.execute(text("SELECT COUNT(*) FROM book_state")).scalar_one())
        assert rows == (0 if expected is None else 1)
        assert conn.execute(select(func.count()).select_from(loan_commands)).scalar_one() == 0
        assert set(conn.execute(select(loans.c.booked_on)).scalars().all()) <= {None}  # not known before 0013
    disbursed = {r["loan_id"]: r["disbursed_on"] for r in loan_rows}
    assert due_days(engine) == {k: d.day if d else 0 for k, d in disbursed.items()}


# Regression: on SQLite 0013 once recreated `loans` (a SQL-expression server default on the new boolean
# columns), and `DROP TABLE loans` failed on the foreign keys of installments: every existing SQLite book
# with a disbursed loan could not be migrated. The columns are now added in place.


def test_a_book_with_a_disbursed_loans_installments_upgrades(engine: Engine) -> None:
    at_0012(engine)
    fill(engine, [loan_row("A", "active", DISBURSED, CLOSED_THROUGH)], [])
    installments = reflected(engine, "installments")
    with engine.begin() as conn:
        conn.execute(insert(installments), [{
            "loan_id": "A", "seq": 1, "period_start": DISBURSED, "due_date": date(2026, 2, 28),
            "principal_minor": 100_000, "interest_minor": 14_400, "fee_minor": 0, "principal_paid_minor": 0,
            "interest_paid_minor": 0, "fee_paid_minor": 0, "capitalized": False}])
    upgrade(engine)
    assert business_date(engine) == CLOSED_THROUGH + timedelta(days=1) and due_days(engine) == {"A": 31}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(installments)).scalar_one() == 1  # kept


# --------------------------------------------------------------------------- a real book, copied


def copy_book(source: Engine, target: Engine) -> None:
    """Every row of the book's loans and ledger, in the columns the target (at 0012) has."""
    tables = (loans, reflected(source, "installments"), journal_entries, postings, ledger_balances)
    targets = {t.name: reflected(target, t.name) for t in tables}  # reflected before either write lock
    with source.connect() as src, target.begin() as dst:
        for table in tables:
            into = targets[table.name]
            names = [c.name for c in into.columns if c.name in table.c and c.name != "id"]  # postings: new ids
            order = table.c.id if table is postings else next(iter(table.primary_key.columns))
            rows = [dict(r._mapping) for r in src.execute(select(*(table.c[n] for n in names)).order_by(order))]
            assert rows, table.name
            dst.execute(insert(into), rows)


def make_book(engine: Engine) -> None:
    """A live loan disbursed on the 31st and a booked one, with a repayment, closed through CLOSED_THROUGH."""
    book_loan(engine, loan_id="LIVE", product="consumer_cny_12m", amount=Money(1_200_000, "CNY"), term=12,
              on=DISBURSED, key="book-live")
    disburse_loan(engine, "LIVE", DISBURSED, "disb-live")
    book_loan(engine, loan_id="LATER", product="consumer_cny_12m", amount=Money(600_000, "CNY"), term=6,
              on=DISBURSED, key="book-later")
    advance_to(engine, date(2026, 3, 1))
    repay_loan(engine, "LIVE", None, Money(50_000, "CNY"), "pay-1")
    run_eod(engine, CLOSED_THROUGH, hooks=False)


def go_on(engine: Engine) -> dict[str, Any]:
    """What operations do next: end of day, a repayment, the disbursement of the booked loan."""
    run_eod(engine, CLOSED_THROUGH + timedelta(days=1), hooks=False)
    repay_loan(engine, "LIVE", None, Money(30_000, "CNY"), "pay-2")
    disburse_loan(engine, "LATER", None, "disb-later")
    run_eod(engine, CLOSED_THROUGH + timedelta(days=40), hooks=False)
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok
        balances = uow.ledger.trial_balance()
    return {"balances": balances, "business_date": business_date(engine),
            **{k: (summary(get_loan(engine, k)), get_loan(engine, k).installments) for k in ("LIVE", "LATER")}}


def test_a_book_from_0012_gets_its_business_date_and_goes_on_like_the_original(
        engine: Engine, tmp_path: Path) -> None:
    source = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade(source)
    make_book(source)
    assert business_date(source) == CLOSED_THROUGH + timedelta(days=1)
    at_0012(engine)
    copy_book(source, engine)
    upgrade(engine)

    assert business_date(engine) == CLOSED_THROUGH + timedelta(days=1)
    assert due_days(engine) == {"LIVE": 31, "LATER": 0}
    migrated = get_loan(engine, "LIVE")
    assert migrated.due_day == 31 and migrated.booked_on is None
    assert migrated.accrued_through == CLOSED_THROUGH and not migrated.non_accrual
    assert summary(migrated) == summary(get_loan(source, "LIVE"))
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok
    # A command dated off the backfilled business date is refused, as on any book.
    with pytest.raises(ServicingError) as err:
        repay_loan(engine, "LIVE", CLOSED_THROUGH, Money(100, "CNY"), "closed-day")
    assert err.value.field == "on"

    assert go_on(engine) == go_on(source)
    later = get_loan(engine, "LATER")
    assert later.due_day == (CLOSED_THROUGH + timedelta(days=2)).day  # disbursed after the upgrade: its own day
    # Booked before the servicing log was kept: a reversal cannot replay it, and says so.
    with pytest.raises(ServicingError) as err:
        reverse_loan_payment(engine, "LIVE", "LIVE/repay/pay-2", None, "rv", "bounced")
    assert err.value.field == "loan_id" and "servicing log" in err.value.message
    source.dispose()
