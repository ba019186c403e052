"""The daily collections run as an EOD hook (SQLite and PostgreSQL): once per closed day after early
warning, counted in the report, idempotent per date (a repeat or a resumed run adds nothing), off with
`hooks=False`, and left alone by a replay of an earlier day (which now closes nothing at all)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from lendstack.collections import service as col
from lendstack.money import Money
from lendstack.services import eod as eod_service
from lendstack.services.business_date import business_date
from lendstack.services.eod import EodReport, after_day, run_eod
from lendstack.services.loans import book_loan, disburse_loan, write_off_loan
from lendstack.store import UnitOfWork
from lendstack.store.tables import outbox
from lendstack.store.tables_collections import collection_cases, collection_history, collection_messages


def js(value: Any) -> Any:
    """The JSON document a shell prints of a service result (a record, a report, or a list of records)."""
    return [v.to_json() for v in value] if isinstance(value, list) else value.to_json()


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
    assert report.days == 14 and report.collections_runs == report.days  # once per closed day, no repeats
    assert report.early_warning_runs == report.collections_runs
    assert report.collection_cases_opened == 3 and report.collection_cases_closed == 0
    reminders = js(col.list_messages(engine, as_of=DUE - timedelta(days=3)))
    assert {m["step_id"] for m in reminders} == {"pre_due_3"} and len(reminders) == 6  # 3 loans × (sms, push)
    assert report.collection_messages_sent == rows(engine)["collection_messages"] > len(reminders)
    queue = js(col.list_queue(engine))
    assert [c["loan_id"] for c in queue] == ["E2", "E1", "E0"]  # the largest amount overdue first
    assert all(c["as_of"] == OVERDUE_DAY.isoformat() and c["days_past_due"] == 10 for c in queue)
    before = rows(engine)
    again = run_eod(engine, OVERDUE_DAY)  # the same day again: closed already, nothing runs
    assert (again.days, again.collections_runs, again.collection_cases_opened, again.collection_messages_sent) \
        == (0, 0, 0, 0)
    assert rows(engine) == before
    hooks = EodReport()
    after_day(engine, OVERDUE_DAY, hooks)  # the day's hooks again (as a run killed before the move repeats them)
    assert (hooks.collections_runs, hooks.collection_cases_opened, hooks.collection_messages_sent) == (1, 0, 0)
    assert rows(engine) == before  # idempotent per date


def test_cases_close_through_eod_when_a_loan_is_written_off(engine: Engine) -> None:
    ids = book(engine, 2)
    run_eod(engine, OVERDUE_DAY)
    assert len(js(col.list_queue(engine))) == 2
    write_off_loan(engine, ids[0], OVERDUE_DAY + timedelta(days=1), "wo")
    assert len(js(col.list_queue(engine))) == 2  # the case closes when end of day works the day
    report = run_eod(engine, OVERDUE_DAY + timedelta(days=1))
    assert report.collection_cases_closed == 1 and [c["loan_id"] for c in js(col.list_queue(engine))] == [ids[1]]
    (closed,) = js(col.list_cases(engine, status="closed"))
    # The write-off is dated on the business date; that day's collections run closes the case as of it
    written_off_on = OVERDUE_DAY + timedelta(days=1)
    assert closed["close_reason"] == "written_off" and closed["closed_on"] == written_off_on.isoformat()


def test_hooks_off_skip_collections(engine: Engine) -> None:
    book(engine)
    report = run_eod(engine, OVERDUE_DAY, hooks=False)
    assert (report.collections_runs, report.collection_cases_opened, report.collection_messages_sent) == (0, 0, 0)
    assert rows(engine)["collection_cases"] == 0 == rows(engine)["collection_messages"]


class Killed(Exception):
    pass


def _killed(_engine: Engine, _day: date) -> None:
    raise Killed


def test_a_killed_run_resumes_and_a_replay_leaves_collections_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    book(engine)
    run_eod(engine, OVERDUE_DAY - timedelta(days=1), hooks=False)
    partial = run_eod(engine, OVERDUE_DAY, chunk_loans=1, max_chunks=2)  # "killed" inside the day
    assert partial.days == 0 and partial.collections_runs == 0  # the day is not closed: no hooks ran
    assert business_date(engine) == OVERDUE_DAY and rows(engine)["collection_cases"] == 0
    with monkeypatch.context() as patched:  # "killed" after the day's loans and hooks, before the move
        patched.setattr(eod_service, "_move_business_date", _killed)
        with pytest.raises(Killed):
            run_eod(engine, OVERDUE_DAY, chunk_loans=1)
    assert business_date(engine) == OVERDUE_DAY
    hooked = rows(engine)
    assert hooked["collection_cases"] == 3
    resumed = run_eod(engine, OVERDUE_DAY, chunk_loans=1)  # the day's hooks again, then the move
    assert (resumed.days, resumed.loans_closed, resumed.collections_runs) == (1, 0, 1)
    assert (resumed.collection_cases_opened, resumed.collection_messages_sent) == (0, 0)
    assert rows(engine) == hooked and business_date(engine) == OVERDUE_DAY + timedelta(days=1)
    with UnitOfWork(engine) as uow:
        assert uow.loans.closed_through() == OVERDUE_DAY
    assert {c["as_of"] for c in js(col.list_queue(engine))} == {OVERDUE_DAY.isoformat()}
    before = rows(engine)
    replay = run_eod(engine, OVERDUE_DAY - timedelta(days=2))  # days already closed: nothing to do
    assert (replay.days, replay.collections_runs) == (0, 0) and rows(engine) == before
