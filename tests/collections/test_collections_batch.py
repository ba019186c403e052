"""The set-based collections run against the per-loan run it replaced (collections_reference.py), on
seeded-random small books (SQLite and PostgreSQL for the batch run, SQLite for the reference): the same
reports day by day and the same cases, messages, history, promises and events; a second run of a day
changes nothing at all (not even a timestamp); and chunking (several chunks per run) changes nothing."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from tests.collections import collections_reference as reference

from lendstack.collections import repository
from lendstack.collections import service as col
from lendstack.collections.domain import CollectionsError
from lendstack.money import Money
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, repay_loan, write_off_loan
from lendstack.store import UnitOfWork
from lendstack.store.db import make_engine, upgrade
from lendstack.store.tables import outbox
from lendstack.store.tables_collections import (
    collection_cases,
    collection_history,
    collection_messages,
    collection_promises,
)
from lendstack.store.tables_monitoring import ew_alerts

ON = date(2026, 1, 10)
FIRST_DAY = date(2026, 2, 5)  # five days before the first installments fall due: reminders first
DAYS = 36  # through the second due date: cadences, stage changes, cures, promises kept and broken
AT = datetime(2026, 2, 1, tzinfo=UTC)
VOLATILE = frozenset({"created_at", "updated_at", "assigned_at", "sent_at", "promise_id"})


def _book(engine: Engine, rng: random.Random) -> list[str]:
    ids = [f"L{k}" for k in range(rng.randint(3, 7))]
    for loan_id in ids:
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m",
                  amount=Money(rng.randrange(3_000, 30_001, 500) * 100, "CNY"), term=12, on=ON,
                  key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    flagged = rng.choice(ids)
    with UnitOfWork(engine) as uow:  # one open early-warning alert: P(roll) reads it
        uow.connection.execute(insert(ew_alerts).values(
            alert_id="ew_1", loan_id=flagged, indicator="revenue_drop", severity="high", as_of=ON, evidence={},
            actions=["call"], status="open", assignee="", history=[], created_at=AT, updated_at=AT))
    run_eod(engine, FIRST_DAY - timedelta(days=1), hooks=False)
    return ids


def _strip(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: _strip(v) for k, v in values.items() if k not in VOLATILE and k != "at"}
    return values


def _state(engine: Engine) -> dict[str, Any]:
    """What a run leaves, less the wall-clock times and the random promise ids."""
    with engine.connect() as conn:
        cases = sorted((_strip(dict(r._mapping)) for r in conn.execute(select(collection_cases))),
                       key=lambda r: r["case_id"])
        messages = sorted((_strip(dict(r._mapping)) for r in conn.execute(select(collection_messages))),
                          key=lambda r: r["message_id"])
        promises = sorted((_strip(dict(r._mapping)) for r in conn.execute(select(collection_promises))),
                          key=lambda r: (r["case_id"], r["made_on"]))
        history: dict[str, list[Any]] = defaultdict(list)  # per case, in the order written
        for r in conn.execute(select(collection_history).order_by(collection_history.c.id)):
            history[r.case_id].append((r.on, r.kind, r.by, _strip(r.detail)))
        events: dict[str, list[Any]] = defaultdict(list)  # per loan, in outbox order
        for r in conn.execute(select(outbox).where(outbox.c.event_type.like("collections.%")).order_by(outbox.c.seq)):
            event_id = r.event_id if r.event_type == col.MESSAGE_SENT else ""  # others carry a random id
            events[r.aggregate_id].append((event_id, r.event_type, _strip(r.payload)))
    return {"cases": cases, "messages": messages, "promises": promises, "history": dict(history),
            "events": dict(events)}


def _raw(engine: Engine) -> dict[str, list[Any]]:
    """Every column of every row, timestamps included: a second run of a day must not move any."""
    tables = (collection_cases, collection_history, collection_messages, collection_promises, outbox)
    with engine.connect() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t))) for t in tables}


def _same(engines: tuple[Engine, Engine], action: Callable[[Engine], object]) -> None:
    """Apply a command to both books; a refusal (e.g. a loan already closed) must be the same on both."""
    outcomes = []
    for engine in engines:
        try:
            action(engine)
            outcomes.append("ok")
        except ValueError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]


def _act(engines: tuple[Engine, Engine], rng: random.Random, ids: list[str], day: date) -> None:
    """The same random servicing on both books before the day closes: part payments, cures, write-offs."""
    for loan_id in ids:
        roll = rng.random()
        if roll < 0.08:
            amount = Money(rng.choice((50_00, 400_00, 1_100_00, 2_500_00)), "CNY")
            _same(engines, lambda e, i=loan_id, a=amount: repay_loan(e, i, day, a, f"pay-{i}-{day}"))
        elif roll < 0.09 and day > FIRST_DAY + timedelta(days=10):
            _same(engines, lambda e, i=loan_id: write_off_loan(e, i, day, f"wo-{i}"))


def _promise(engines: tuple[Engine, Engine], rng: random.Random, day: date) -> None:
    """Now and then a promise to pay on one open case, the same on both books."""
    open_cases = [c.to_json() for c in col.list_cases(engines[0], status="open")]
    if not open_cases or rng.random() > 0.35:
        return
    case = rng.choice(open_cases)
    amount = rng.randint(1, max(1, case["amount_overdue_minor"]))
    promised_for = day + timedelta(days=rng.randint(0, 4))
    outcomes = []
    for engine in engines:
        try:
            col.promise(engine, case["case_id"], amount_minor=amount, promised_for=promised_for, on=day, by="ann")
            outcomes.append("made")
        except CollectionsError as exc:
            outcomes.append(exc.field)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_batch_run_equals_the_per_loan_run(engine: Engine, tmp_path: Path, seed: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(col, "IN_CHUNK", 2)  # several chunks per run ...
    monkeypatch.setattr(repository, "IN_CHUNK", 2)  # ... and per IN list
    ref = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(ref)
    try:
        ids = _book(engine, random.Random(seed))
        assert _book(ref, random.Random(seed)) == ids
        rng = random.Random(seed * 7919)
        worked = 0
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            _act((engine, ref), rng, ids, day)
            for e in (engine, ref):
                run_eod(e, day, hooks=False)
            got, want = col.run(engine, day).to_json(), reference.run(ref, day)
            assert got == want, day
            assert _state(engine) == _state(ref), day
            before = _raw(engine)
            again = col.run(engine, day).to_json()
            assert _raw(engine) == before, day  # nothing sent, stored, announced or touched twice
            assert again["cases_opened"] == again["messages_sent"] == again["steps_taken"] == 0
            _promise((engine, ref), rng, day)
            worked += got["steps_taken"] + got["reminders_sent"] + got["promises_kept"] + got["promises_broken"]
        assert worked > 0 and _state(engine)["cases"]  # the scenario did exercise the run
    finally:
        ref.dispose()


def test_a_book_with_nothing_to_do_writes_nothing(engine: Engine) -> None:
    report = col.run(engine, FIRST_DAY).to_json()  # no loan at all: no closed day to disagree with
    assert report["overdue_loans"] == 0 and report["messages_sent"] == 0
    assert all(rows == [] for rows in _raw(engine).values())
