"""Decision replay is an audit check: a stored decision that does not replay to the same outcome
raises InvariantError (always on, not an assert that `python -O` would strip); `compare_replay` is
the auditor's view of the same check, which reports the difference instead of raising."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import Engine, update

from lendstack.decisioning import DecisionInputError, ScoringModel, load_policy
from lendstack.decisioning.types import decision_to_dict
from lendstack.errors import ErrorKind
from lendstack.invariants import InvariantError
from lendstack.services.decisions import compare_replay, decide_application, replay_decision
from lendstack.sim import to_application_json
from lendstack.store.tables_decisioning import decisions

TODAY = date(2026, 1, 2)


def test_a_tampered_decision_does_not_replay(engine: Engine, sample: pl.DataFrame,
                                             small_model: ScoringModel) -> None:
    document = to_application_json(sample.row(0, named=True))
    decision = decide_application(engine, document, policy=load_policy("consumer_v1"), model=small_model,
                                  today=TODAY)
    assert replay_decision(engine, decision.application_id, model=small_model) == decision
    with engine.begin() as conn:
        stored = conn.execute(decisions.select().where(decisions.c.application_id == decision.application_id)).one()
        tampered = dict(stored.decision) | {"outcome": "approve" if decision.outcome != "approve" else "decline"}
        conn.execute(update(decisions).where(decisions.c.id == stored.id).values(decision=tampered))
    with pytest.raises(InvariantError, match="differs from the stored decision"):
        replay_decision(engine, decision.application_id, model=small_model)


def _tamper(engine: Engine, application_id: str, outcome: str) -> None:
    with engine.begin() as conn:
        stored = conn.execute(decisions.select().where(decisions.c.application_id == application_id)).one()
        conn.execute(update(decisions).where(decisions.c.id == stored.id)
                     .values(decision=dict(stored.decision) | {"outcome": outcome}))


def test_compare_replay_reports_a_match_and_a_tampered_difference(engine: Engine, sample: pl.DataFrame,
                                                                  small_model: ScoringModel) -> None:
    """The auditor's non-raising view: the stored and the replayed decision side by side."""
    document = to_application_json(sample.row(1, named=True))
    decision = decide_application(engine, document, policy=load_policy("consumer_v1"), model=small_model,
                                  today=TODAY)
    same = compare_replay(engine, decision.application_id, model=small_model)
    assert same.matches and same.differences == () and same.arm == "champion"
    assert same.replayed == same.stored == decision_to_dict(decision)
    assert same.to_json()["matches"] is True and list(same.to_json()) == [
        "application_id", "arm", "matches", "differences", "stored", "replayed"]
    other = "approve" if decision.outcome != "approve" else "decline"
    _tamper(engine, decision.application_id, other)
    differs = compare_replay(engine, decision.application_id, model=small_model)
    assert not differs.matches and differs.differences == ("outcome",)
    assert differs.stored["outcome"] == other and differs.replayed["outcome"] == decision.outcome
    shown = differs.shown_as("my-ref")
    assert shown.application_id == shown.stored["application_id"] == shown.replayed["application_id"] == "my-ref"
    assert shown.differences == ("outcome",)


def test_replaying_an_unknown_application_is_not_found(engine: Engine, small_model: ScoringModel) -> None:
    with pytest.raises(DecisionInputError, match="no decision for 'nope'") as caught:
        compare_replay(engine, "nope", model=small_model)
    assert caught.value.kind is ErrorKind.NOT_FOUND and caught.value.field == "application_id"
