"""Decision replay is an audit check: a stored decision that does not replay to the same outcome
raises InvariantError (always on, not an assert that `python -O` would strip)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import Engine, update

from lendstack.decisioning import ScoringModel, load_policy
from lendstack.invariants import InvariantError
from lendstack.services.decisions import decide_application, replay_decision
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
