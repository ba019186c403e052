"""The daily collections run as an EOD hook (SQLite and PostgreSQL): once per closed day after early
warning, counted in the report, idempotent per date (a repeat or a resumed run adds nothing), off with
`hooks=False`, and left alone by a replay of an earlier day."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from lendstack.money import Money
from lendstack.services import collections as col
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, write_off_loan
from lendstack.store import UnitOfWork
from lendstack.store.tables import outbox
from lendstack.store.tables_collections import collection_cases, collection_history, collection_messages

ON = date(2026, 1, 10)
DUE = date(2026, 2, 10)  # the first installment of every loan
OVERDUE_DAY = date(2026, 2, 20)


def book(engine: Engine, n: int = 3) -> list[str]:
    ids = [f"E{k}" for k in range(n)]
    for k, loan_id in enumerate(ids):
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money((6_000 + 3_000 * k) * 100, "CNY"),
                  term=12, on=ON, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    return ids


def rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (collection_cases, collection_history, collection_messages, outbox)}


def test_eod_runs_collections_every_closed_day(engine: Engine) -> None:
    book(engine)
    run_eod(engine, DUE - timedelta(days=4), hooks=False)
    report = run_eod(engine, OVERDUE_DAY)  # nobody pays: reminders, then every loan overdue
    assert report.days == 14 and report.collections_runs == report.days + 1  # + the last closed day again
    assert report.early_warning_runs == report.collections_runs
    assert report.collection_cases_opened == 3 and report.collection_cases_closed == 0
    reminders = col.list_messages(engine, as_of=DUE - timedelta(days=3))
    assert {m["step_id"] for m in reminders} == {"pre_due_3"} and len(reminders) == 6  # 3 loans × (sms, push)
    assert report.collection_messages_sent == rows(engine)["collection_messages"] > len(reminders)
    queue = col.list_queue(engine)
    assert [c["loan_id"] for c in queue] == ["E2", "E1", "E0"]  # the largest amount overdue first
    assert all(c["as_of"] == OVERDUE_DAY.isoformat() and c["days_past_due"] == 10 for c in queue)
    before = rows(engine)
    again = run_eod(engine, OVERDUE_DAY)  # the same day again: only the hooks, which change nothing
    assert (again.days, again.collections_runs, again.collection_cases_opened, again.collection_messages_sent) \
        == (0, 1, 0, 0)
    assert rows(engine) == before


def test_cases_close_through_eod_when_a_loan_is_written_off(engine: Engine) -> None:
    ids = book(engine, 2)
    run_eod(engine, OVERDUE_DAY)
    assert len(col.list_queue(engine)) == 2
    write_off_loan(engine, ids[0], OVERDUE_DAY + timedelta(days=1), "wo")
    report = run_eod(engine, OVERDUE_DAY + timedelta(days=1))
    assert report.collection_cases_closed == 1 and [c["loan_id"] for c in col.list_queue(engine)] == [ids[1]]
    (closed,) = col.list_cases(engine, status="closed")
    # EOD first redoes the hooks of the last closed day (a killed run may have skipped them): that run
    # already sees the write-off booked for the next day and closes the case as of the day it works
    assert closed["close_reason"] == "written_off" and closed["closed_on"] == OVERDUE_DAY.isoformat()


def test_hooks_off_skip_collections(engine: Engine) -> None:
    book(engine)
    report = run_eod(engine, OVERDUE_DAY, hooks=False)
    assert (report.collections_runs, report.collection_cases_opened, report.collection_messages_sent) == (0, 0, 0)
    assert rows(engine)["collection_cases"] == 0 == rows(engine)["collection_messages"]


def test_a_killed_run_resumes_and_a_replay_leaves_collections_alone(engine: Engine) -> None:
    book(engine)
    run_eod(engine, OVERDUE_DAY - timedelta(days=1), hooks=False)
    partial = run_eod(engine, OVERDUE_DAY, chunk_loans=1, max_chunks=2)  # "killed" inside the day
    assert partial.days == 0 and partial.collections_runs == 1  # the day before, the last fully closed
    resumed = run_eod(engine, OVERDUE_DAY, chunk_loans=1)
    assert resumed.days == 1 and resumed.collections_runs == 2
    with UnitOfWork(engine) as uow:
        assert uow.loans.closed_through() == OVERDUE_DAY
    assert {c["as_of"] for c in col.list_queue(engine)} == {OVERDUE_DAY.isoformat()}
    before = rows(engine)
    replay = run_eod(engine, OVERDUE_DAY, start=OVERDUE_DAY - timedelta(days=2))  # days already closed
    assert replay.collections_runs == 1 and rows(engine) == before  # only the day the book stands on
