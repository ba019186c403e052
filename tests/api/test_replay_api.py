"""GET /v1/applications/{id}/replay: an auditor re-runs a stored decision and compares (SQLite and
PostgreSQL). A partner may replay its own; another partner's application is an unknown one (404)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from conftest import auth, keys_for, submit_until
from lendstack.api.app import create_app
from lendstack.api.permissions import MATRIX, PARTNER, ROLES
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_origination import applications

ROUTE = "/v1/applications/{application_id}/replay"


@pytest.fixture
def both(engine: Engine, registry_dir: Path) -> Iterator[tuple[TestClient, dict[str, str], Engine]]:
    client = TestClient(create_app(engine, registry_dir=registry_dir))
    yield client, keys_for(engine), engine
    client.close()


def _book_id(engine: Engine, partner_id: str, reference: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(applications.c.application_id).where(
            applications.c.partner_id == partner_id, applications.c.reference == reference)).scalar_one())


def _tamper(engine: Engine, book_id: str, field: str, value: Any) -> None:
    with engine.begin() as conn:
        stored = conn.execute(select(decisions.c.id, decisions.c.decision).where(
            decisions.c.application_id == book_id, decisions.c.acting.is_(True))).one()
        conn.execute(update(decisions).where(decisions.c.id == stored.id)
                     .values(decision=dict(stored.decision) | {field: value}))


def test_the_auditor_replays_a_stored_decision(both: tuple[TestClient, dict[str, str], Engine],
                                               documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = both
    _i, submitted = submit_until(client, tokens[PARTNER], documents, "approve")
    shown = submitted["application_id"]
    stored = client.get(f"/v1/applications/{shown}/decision", headers=auth(tokens["auditor"]))
    # Staff name the book's id; the partner's reference is its own (here the same: the id was free).
    book_id = _book_id(engine, "p1", shown)
    replayed = client.get(f"/v1/applications/{book_id}/replay", headers=auth(tokens["auditor"]))
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert list(body) == ["application_id", "arm", "matches", "differences", "stored", "replayed"]
    assert body["matches"] is True and body["differences"] == [] and body["arm"] == "champion"
    assert body["stored"] == body["replayed"] == stored.json()
    with engine.connect() as conn:  # the decision is personal data: its replay is audited like its read
        audited = conn.execute(select(func.count()).where(api_audit.c.path == f"/v1/applications/{book_id}/replay",
                                                          api_audit.c.role == "auditor")).scalar_one()
    assert audited == 1


def test_a_tampered_decision_is_reported_not_raised(both: tuple[TestClient, dict[str, str], Engine],
                                                   documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = both
    _i, submitted = submit_until(client, tokens[PARTNER], documents, "decline")
    shown = submitted["application_id"]
    _tamper(engine, _book_id(engine, "p1", shown), "outcome", "approve")
    replayed = client.get(f"/v1/applications/{shown}/replay", headers=auth(tokens[PARTNER]))
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert body["matches"] is False and body["differences"] == ["outcome"]
    assert body["stored"]["outcome"] == "approve" and body["replayed"]["outcome"] == "decline"
    assert body["application_id"] == body["stored"]["application_id"] == shown  # the partner's own id


def test_another_partners_application_is_404_exactly_like_an_unknown_one(
        both: tuple[TestClient, dict[str, str], Engine], documents: list[dict[str, Any]]) -> None:
    client, tokens, _engine = both
    _i, submitted = submit_until(client, tokens[PARTNER], documents, "approve")
    shown = submitted["application_id"]
    theirs = client.get(f"/v1/applications/{shown}/replay", headers=auth(tokens["partner2"]))
    unknown = client.get("/v1/applications/no-such-app/replay", headers=auth(tokens["partner2"]))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == {**unknown.json(), "detail": f"no application {shown!r}"}
    assert unknown.json()["detail"] == "no application 'no-such-app'"
    assert theirs.json()["field"] == "application_id"
    staff_unknown = client.get("/v1/applications/no-such-app/replay", headers=auth(tokens["auditor"]))
    assert staff_unknown.status_code == 404 and staff_unknown.json()["field"] == "application_id"


def test_only_the_audit_roles_may_replay(both: tuple[TestClient, dict[str, str], Engine]) -> None:
    client, tokens, _engine = both
    allowed = MATRIX[("GET", ROUTE)]
    assert {"auditor", "admin", "risk_manager", PARTNER} == set(allowed)
    for role in ROLES:
        answer = client.get("/v1/applications/no-such-app/replay", headers=auth(tokens[role]))
        assert answer.status_code == (404 if role in allowed else 403), (role, answer.text)
