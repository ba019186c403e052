"""The decision service on both backends: persist + event in one unit of work, replay, bad input
stores nothing, shadow mode, the review queue, accepting an offer books the loan."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from lendstack.decisioning import DecisionInputError, Experiment, ScoringModel, load_policy
from lendstack.origination import ApplicationError
from lendstack.services.decisions import (
    Engines,
    ReviewError,
    accept_offer,
    assign_review,
    challenger_comparison,
    decide_application,
    list_reviews,
    replay_decision,
    resolve_review,
)
from lendstack.services.loans import get_loan
from lendstack.sim import to_application_json
from lendstack.store import UnitOfWork
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.store.tables import outbox
from lendstack.store.tables_decisioning import decisions

TODAY = date(2026, 1, 2)
POLICY = load_policy("consumer_v1")


def _document(sample: pl.DataFrame, i: int) -> dict[str, Any]:
    return to_application_json(sample.row(i, named=True))


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _first(engine: Engine, sample: pl.DataFrame, model: ScoringModel, outcome: str, start: int = 0) -> Any:
    for i in range(start, sample.height):
        decision = decide_application(engine, _document(sample, i), policy=POLICY, model=model, today=TODAY)
        if decision.outcome == outcome:
            return decision
    raise AssertionError(f"no {outcome} in the sample")


def test_decide_persists_with_an_event_and_replays(engine: Engine, sample: pl.DataFrame,
                                                   small_model: ScoringModel) -> None:
    decision = decide_application(engine, _document(sample, 0), policy=POLICY, model=small_model, today=TODAY)
    assert _count(engine, decisions) == 1
    with UnitOfWork(engine) as uow:
        events = uow.outbox.pending()
        status = ApplicationRepository(uow.connection).status_of(decision.application_id)
    assert [e.event_type for e in events if e.aggregate_type == "application"][-1] == "application.decided"
    assert status == {"approve": "approved", "refer": "referred", "decline": "declined"}[decision.outcome]
    assert set(dict(decision.fingerprints)) >= {"bureau", "device"}
    assert replay_decision(engine, decision.application_id, model=small_model) == decision


def test_bad_input_names_the_field_and_stores_nothing(engine: Engine, sample: pl.DataFrame,
                                                      small_model: ScoringModel) -> None:
    events_before = _count(engine, outbox)
    bad = _document(sample, 1)
    bad["applicant"]["age"] = 300
    with pytest.raises(ApplicationError) as caught:
        decide_application(engine, bad, policy=POLICY, model=small_model, today=TODAY)
    assert "age" in caught.value.field
    future = _document(sample, 1) | {"applied_on": "2099-01-01"}
    with pytest.raises(ApplicationError):
        decide_application(engine, future, policy=POLICY, model=small_model, today=TODAY)
    unknown = _document(sample, 1) | {"product_id": "no_such_product"}
    with pytest.raises((DecisionInputError, ApplicationError)) as product_error:
        decide_application(engine, unknown, policy=POLICY, model=small_model, today=TODAY)
    assert product_error.value.field == "product_id"
    with pytest.raises(Exception, match="unknown policy"):
        decide_application(engine, _document(sample, 1), policy="consumer@7", model=small_model, today=TODAY)
    assert _count(engine, decisions) == 0 and _count(engine, outbox) == events_before
    decide_application(engine, _document(sample, 1), policy=POLICY, model=small_model, today=TODAY)
    with pytest.raises(DecisionInputError, match="already decided"):
        decide_application(engine, _document(sample, 1), policy=POLICY, model=small_model, today=TODAY)


def test_shadow_mode_acts_on_the_champion_and_reports(engine: Engine, sample: pl.DataFrame,
                                                      small_model: ScoringModel) -> None:
    setup = Engines(POLICY, small_model, challenger_policy=load_policy("consumer_v2"),
                    experiment=Experiment("v2-shadow", 1.0, mode="shadow"))
    for i in range(8):
        acting = decide_application(engine, _document(sample, i), engines=setup, today=TODAY)
        assert acting.policy_key == "consumer@1"
    report = challenger_comparison(engine).to_json()
    assert report["applications"] == 8
    assert replay_decision(engine, _document(sample, 0)["application_id"], model=small_model, arm="shadow")


def test_review_queue_records_every_action(engine: Engine, sample: pl.DataFrame, small_model: ScoringModel) -> None:
    referred = _first(engine, sample, small_model, "refer")
    queue = list_reviews(engine, "open")
    assert [item.application_id for item in queue] == [referred.application_id]
    assign_review(engine, referred.application_id, "alice", by="lead")
    with pytest.raises(ReviewError) as caught:
        resolve_review(engine, referred.application_id, "approve", by="alice", note="  ")
    assert caught.value.field == "note"
    done = resolve_review(engine, referred.application_id, "counter_offer", by="alice", note="smaller amount",
                          counter_offer={"amount_minor": 500_000, "term": 12, "rate_annual": "0.15"})
    assert done.status == "done" and done.action == "counter_offer" and done.counter_offer is not None
    assert [h["event"] for h in done.history] == ["referred", "assigned", "counter_offer"]
    assert [h.get("by") for h in done.history] == ["system", "lead", "alice"] and all(h["at"] for h in done.history)
    with pytest.raises(ReviewError, match="already reviewed"):
        resolve_review(engine, referred.application_id, "decline", by="bob", note="late")
    booked = accept_offer(engine, referred.application_id, TODAY, key="accept-counter")
    assert get_loan(engine, booked["loan_id"]).loan_id == booked["loan_id"]
    assert referred.application_id not in booked["loan_id"]  # random, not derived: outsiders cannot guess it


def test_accept_offer_books_the_loan(engine: Engine, sample: pl.DataFrame, small_model: ScoringModel) -> None:
    approved = _first(engine, sample, small_model, "approve")
    assert approved.offer is not None
    booked = accept_offer(engine, approved.application_id, TODAY, key="accept-1")
    assert accept_offer(engine, approved.application_id, TODAY, key="accept-1") == booked  # idempotent retry
    loan = get_loan(engine, booked["loan_id"])
    assert loan.terms.product_id == approved.offer.product_id
    with UnitOfWork(engine) as uow:
        assert ApplicationRepository(uow.connection).status_of(approved.application_id) == "booked"
    declined = _first(engine, sample, small_model, "decline", start=300)
    with pytest.raises(DecisionInputError, match="no offer"):
        accept_offer(engine, declined.application_id, TODAY, key="accept-2")
