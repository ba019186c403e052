"""`lendstack decide --replay APPLICATION_ID`: an auditor re-runs a stored decision from the command
line (SQLite and PostgreSQL): exit 0 when it replays to itself, EXIT_REPLAY_DIFFERS with the
difference when it does not, a not-found error naming the application id when it is unknown."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from lendstack.cli.decide import EXIT_REPLAY_DIFFERS
from lendstack.cli.main import app
from lendstack.decisioning import ScoringModel, load_policy
from lendstack.services.decisions import decide_application
from lendstack.sim import to_application_json
from lendstack.store.tables_decisioning import decisions

runner = CliRunner()
TODAY = date(2026, 1, 2)


@pytest.fixture
def decided(engine: Engine, monkeypatch: pytest.MonkeyPatch, sample: pl.DataFrame,
            small_model: ScoringModel) -> tuple[Engine, str, str]:
    """A stored decision in the book the CLI opens: (engine, application id, its outcome)."""
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr("lendstack.services.models.scoring_model", lambda **_kwargs: small_model)
    decision = decide_application(engine, to_application_json(sample.row(2, named=True)),
                                  policy=load_policy("consumer_v1"), model=small_model, today=TODAY)
    return engine, decision.application_id, decision.outcome


def _json(output: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(output)
    return document


def test_a_stored_decision_replays_to_itself(decided: tuple[Engine, str, str]) -> None:
    _engine, application_id, outcome = decided
    result = runner.invoke(app, ["decide", "--replay", application_id, "--json"])
    assert result.exit_code == 0, result.output
    body = _json(result.output)
    assert body["application_id"] == application_id and body["matches"] is True and body["differences"] == []
    assert body["stored"] == body["replayed"] and body["stored"]["outcome"] == outcome
    shown = runner.invoke(app, ["decide", "--replay", application_id])
    assert shown.exit_code == 0, shown.output
    assert "matches: yes" in shown.output and "differences: none" in shown.output and outcome in shown.output


def test_a_tampered_decision_exits_non_zero_with_the_difference(decided: tuple[Engine, str, str]) -> None:
    engine, application_id, outcome = decided
    other = "approve" if outcome != "approve" else "decline"
    with engine.begin() as conn:
        stored = conn.execute(select(decisions.c.id, decisions.c.decision)
                              .where(decisions.c.application_id == application_id)).one()
        conn.execute(update(decisions).where(decisions.c.id == stored.id)
                     .values(decision=dict(stored.decision) | {"outcome": other}))
    result = runner.invoke(app, ["decide", "--replay", application_id, "--json"])
    assert result.exit_code == EXIT_REPLAY_DIFFERS != 0, result.output
    body = _json(result.output)
    assert body["matches"] is False and body["differences"] == ["outcome"]
    assert body["stored"]["outcome"] == other and body["replayed"]["outcome"] == outcome
    shown = runner.invoke(app, ["decide", "--replay", application_id])
    assert shown.exit_code == EXIT_REPLAY_DIFFERS
    assert "matches: NO" in shown.output and "differences: outcome" in shown.output


def test_an_unknown_application_is_an_error_naming_it(decided: tuple[Engine, str, str]) -> None:
    result = runner.invoke(app, ["decide", "--replay", "no-such-app", "--json"])
    error = _json(result.output)["error"]
    assert result.exit_code not in (0, 1, EXIT_REPLAY_DIFFERS), result.output  # a user's mistake, not a bug
    assert error["field"] == "application_id" and "no-such-app" in error["message"]


def test_replay_and_application_are_exclusive(decided: tuple[Engine, str, str]) -> None:
    _engine, application_id, _outcome = decided
    neither = runner.invoke(app, ["decide", "--json"])
    assert neither.exit_code == 2 and _json(neither.output)["error"]["field"] == "application"
    both = runner.invoke(app, ["decide", "--replay", application_id, "--application", "x.json", "--json"])
    assert both.exit_code == 2 and _json(both.output)["error"]["field"] == "application"
