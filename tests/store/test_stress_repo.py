"""StressRepository on SQLite and PostgreSQL: the schedule frame holds every installment; approvals
are the acting approving decisions only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import Engine, insert
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.services.loans import book_loan, disburse_loan, get_loan
from lendstack.store.stress_repo import SCHEDULE_COLUMNS, Approval, StressRepository
from lendstack.store.tables_decisioning import decisions

START = date(2026, 1, 5)


def test_an_empty_book(engine: Engine) -> None:
    with engine.connect() as conn:
        repo = StressRepository(conn)
        frame = repo.schedule()
        assert frame.columns == list(SCHEDULE_COLUMNS) and frame.height == 0
        assert repo.approvals() == []


def test_the_schedule_is_every_installment(engine: Engine) -> None:
    advance_to(engine, START)
    book_loan(engine, loan_id="S1", product="consumer_cny_12m", amount=Money(1_200_000, "CNY"), term=12, on=START,
              key="book-S1")
    disburse_loan(engine, "S1", START, "disb-S1")
    loan = get_loan(engine, "S1")
    with engine.connect() as conn:
        frame = StressRepository(conn).schedule()
    assert frame.schema["due_date"] == pl.Date and frame.schema["principal_minor"] == pl.Int64
    rows = frame.sort("due_date")
    assert rows["due_date"].to_list() == [i.due_date for i in loan.installments]
    assert rows["principal_minor"].to_list() == [i.principal_minor for i in loan.installments]
    assert rows["principal_paid_minor"].sum() == 0 and not rows["capitalized"].any()


def _decision(application_id: str, arm: str, acting: bool, outcome: str, pd: str, segment: str,
              document: dict[str, object]) -> dict[str, object]:
    return {"application_id": application_id, "arm": arm, "acting": acting, "outcome": outcome, "grade": "B",
            "pd": pd, "rate_annual": "0.12", "limit_minor": 1_000_00, "reasons": [], "flags": [], "fingerprints": {},
            "policy_id": "p", "policy_version": "1", "policy_hash": "h", "model_version": "v1", "model_hash": "m",
            "input": document, "input_hash": "i", "decision": {}, "applicant_id": "a", "household_key": "h",
            "segment": segment, "exposure_minor": 0}


def test_approvals_are_the_acting_approving_decisions(engine: Engine) -> None:
    rows = [
        _decision("A1", "champion", True, "approve", "0.031", "retail", {"features": {"collateral": "vehicle"}}),
        _decision("A1", "challenger", False, "approve", "0.5", "retail", {}),  # not acting
        _decision("A2", "champion", True, "decline", "0.4", "retail", {}),  # not approved
        _decision("A3", "champion", True, "approve", "n/a", "", {}),
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert(decisions).values(**row, created_at=datetime.now(UTC)))
    with engine.connect() as conn:
        found = sorted(StressRepository(conn).approvals(), key=lambda a: a.application_id)
    assert found == [Approval("A1", "0.031", "retail", {"features": {"collateral": "vehicle"}}),
                     Approval("A3", "n/a", "", {})]
