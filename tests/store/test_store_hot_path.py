"""Store settings behind the decision endpoint's speed: read-only (deferred) transactions on SQLite,
the exposure sums served by their indexes (migration 0011) and equal to a plain sum, and a policy
version's canonical document made only when the version is new."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, text

from lendstack.store.db import make_engine, read_only
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.tables_decisioning import decision_policies, decisions
from lendstack.store.uow import UnitOfWork


def _decision(i: int, applicant: str, household: str, segment: str, acting: bool, exposure: int) -> dict[str, Any]:
    return {"application_id": f"A{i}", "arm": "champion" if acting else "shadow", "acting": acting,
            "outcome": "approve" if exposure else "decline", "grade": "B", "pd": "0.05", "rate_annual": "0.12",
            "limit_minor": exposure, "reasons": [], "flags": [], "fingerprints": {}, "policy_id": "p",
            "policy_version": "1", "policy_hash": "h", "model_version": "v0001", "model_hash": "m",
            "input": {"big": "x" * 2000}, "input_hash": "i", "decision": {}, "applicant_id": applicant,
            "household_key": household, "segment": segment, "exposure_minor": exposure,
            "created_at": datetime.now(UTC)}


def test_exposure_sums_equal_a_plain_sum(engine: Engine) -> None:
    rng = random.Random(11)
    rows = [_decision(i, f"a{rng.randrange(5)}", f"h{rng.randrange(4)}", rng.choice(("retail", "farming")),
                      rng.random() < 0.8, rng.choice((0, 0, 100, 250_000, 1_234_567))) for i in range(120)]
    with engine.begin() as conn:
        conn.execute(insert(decisions), rows)
    acting = [r for r in rows if r["acting"]]
    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        for applicant, household, segment in (("a0", "h1", "retail"), ("a4", "h3", "farming"), ("zz", "zz", "zz")):
            expected = (sum(r["exposure_minor"] for r in acting if r["applicant_id"] == applicant),
                        sum(r["exposure_minor"] for r in acting if r["household_key"] == household),
                        sum(r["exposure_minor"] for r in acting if r["segment"] == segment))
            assert repo.exposure(applicant, household, segment) == expected


def test_exposure_sums_read_only_their_index(tmp_path: Path) -> None:
    from lendstack.store.db import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    plans: list[str] = []

    def explain(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "sum(decisions.exposure_minor)" in statement:
            raw = conn.connection.dbapi_connection
            plans.extend(str(row[-1]) for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))

    event.listen(engine, "before_cursor_execute", explain)
    with UnitOfWork(engine) as uow:
        DecisionRepository(uow.connection).exposure("a", "h", "retail")
    engine.dispose()
    # One statement (three scalar subqueries), each a search of its covering index: never the table.
    searches = [plan for plan in plans if "decisions" in plan]
    assert len(searches) == 3, plans
    for column, plan in zip(("applicant_id", "household_key", "segment"), searches, strict=True):
        assert f"USING COVERING INDEX ix_decisions_{column}_acting_exposure_minor" in plan, plan
    assert not any(plan.startswith("SCAN decisions") for plan in plans), plans


def test_read_only_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    """A writer holds the lock (BEGIN IMMEDIATE); a read-only connection still reads at once, the
    last committed state, while a second writer would have to wait."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, s, *_a: begins.append(s))
    with engine.begin() as writer:
        writer.exec_driver_sql("UPDATE t SET n = 2")  # uncommitted
        started = time.monotonic()
        with read_only(engine) as reader:
            seen = reader.execute(text("SELECT n FROM t")).scalar_one()
        assert seen == 1 and time.monotonic() - started < 1.0
        waited = threading.Event()

        def second_writer() -> None:
            with engine.begin() as conn:
                conn.exec_driver_sql("UPDATE t SET n = n + 10")
            waited.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not waited.wait(0.3), "a second writer must queue behind the first"
    thread.join(timeout=30)
    assert waited.is_set()
    with read_only(engine) as reader:
        assert reader.execute(text("SELECT n FROM t")).scalar_one() == 12
    engine.dispose()
    assert "BEGIN" in begins and begins.count("BEGIN IMMEDIATE") >= 2


def test_read_only_works_on_both_backends(engine: Engine) -> None:
    with read_only(engine) as conn:
        assert conn.execute(select(decisions.c.id).limit(1)).first() is None


def test_policy_document_is_made_only_for_a_new_version(engine: Engine) -> None:
    made: list[int] = []

    def document() -> dict[str, Any]:
        made.append(1)
        return {"rules": []}

    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        repo.save_policy("p", "1", "hash-1", document)
        repo.save_policy("p", "1", "hash-1", document)  # already stored: no document made
        with pytest.raises(ValueError, match="another content hash"):
            repo.save_policy("p", "1", "hash-2", document)
        repo.save_policy("p", "2", "hash-2", {"rules": [1]})  # a plain document still works
    assert made == [1]
    with engine.connect() as conn:
        stored = conn.execute(select(decision_policies.c.version, decision_policies.c.document)
                              .order_by(decision_policies.c.version)).all()
    assert [(r.version, r.document) for r in stored] == [("1", {"rules": []}), ("2", {"rules": [1]})]
