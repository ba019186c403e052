"""EodRepository's counts on SQLite and PostgreSQL: live loans, loans behind a day, the last provision."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.ledger import EntryKind
from lendstack.money import Money
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.store.eod_repo import EodRepository
from lendstack.store.tables import journal_entries

START = date(2026, 1, 5)


def test_counts_follow_the_book(engine: Engine) -> None:
    with engine.connect() as conn:
        repo = EodRepository(conn)
        assert repo.live_loans() == 0 and repo.live_loans_behind(START) == 0
        assert repo.last_provision_date() is None
    advance_to(engine, START)
    for k in range(3):
        book_loan(engine, loan_id=f"E{k}", product="consumer_cny_12m", amount=Money(500_000, "CNY"), term=12,
                  on=START, key=f"book-E{k}")
    disburse_loan(engine, "E0", START, "disb-E0")
    disburse_loan(engine, "E1", START, "disb-E1")  # E2 stays approved: not live
    with engine.connect() as conn:
        repo = EodRepository(conn)
        assert repo.live_loans() == 2
        assert repo.live_loans_behind(START - timedelta(days=1)) == 0  # closed through the day before disbursal
        assert repo.live_loans_behind(START) == 2  # today is not closed yet
    run_eod(engine, date(2026, 1, 31))  # with its hooks: the month end posts the first provision
    e = journal_entries.c
    with engine.connect() as conn:
        repo = EodRepository(conn)
        assert repo.live_loans_behind(date(2026, 1, 31)) == 0 and repo.live_loans_behind(date(2026, 2, 1)) == 2
        last = conn.execute(select(func.max(e.effective_date)).where(e.kind == EntryKind.PROVISION.value)).scalar()
        assert repo.last_provision_date() == last == date(2026, 1, 31)
