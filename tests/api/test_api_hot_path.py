"""The decision endpoint's hot path (issue 6 §9): one write transaction holds the decision, its
idempotency record and its audit row (all or nothing); replays do no work; API keys are cached
for a bounded time and revocation still bites; the statement budget does not creep back up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, text, update

from conftest import auth
from lendstack.api import keys as api_keys_module
from lendstack.api import routes_origination
from lendstack.api.app import create_app
from lendstack.api.keys import KeyCache, Principal, authenticate, create_key, hash_token, revoke_key
from lendstack.api.permissions import PARTNER
from lendstack.store.tables_api import api_audit, api_keys

TABLES = ("applications", "application_snapshots", "application_status_history", "decisions", "outbox",
          "api_idempotency", "api_audit")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in TABLES}


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def app_client(engine: Engine, registry_dir: Path) -> Iterator[tuple[TestClient, str, Engine]]:
    """On SQLite AND PostgreSQL: the app, a partner token."""
    token = create_key(engine, PARTNER, partner_id="p1").token
    with TestClient(create_app(engine, registry_dir=registry_dir), raise_server_exceptions=False) as client:
        yield client, token, engine


# --- one transaction --------------------------------------------------------------------------------


def test_submit_commits_decision_record_and_audit_together(app_client: tuple[TestClient, str, Engine],
                                                           documents: list[dict[str, Any]]) -> None:
    client, token, engine = app_client
    before = _counts(engine)
    response = client.post("/v1/applications", json=documents[0], headers=auth(token, "one-tx"))
    assert response.status_code == 201, response.text
    after = _counts(engine)
    # Exactly one audit row (written in the transaction, not again by the middleware) and one record.
    assert after["api_audit"] == before["api_audit"] + 1
    assert after["api_idempotency"] == before["api_idempotency"] + 1
    assert after["decisions"] == before["decisions"] + 1 and after["applications"] == before["applications"] + 1
    with engine.connect() as conn:
        row = conn.execute(select(api_audit.c.method, api_audit.c.path, api_audit.c.status,
                                  api_audit.c.idempotency_key, api_audit.c.role)).one()
    assert tuple(row) == ("POST", "/v1/applications", 201, "one-tx", PARTNER)
    body = response.json()
    assert body["status"] in ("approved", "referred", "declined")
    assert body["application_id"] == documents[0]["application_id"]


def test_a_failure_after_the_decision_rolls_everything_back(app_client: tuple[TestClient, str, Engine],
                                                            documents: list[dict[str, Any]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    client, token, engine = app_client
    before = _counts(engine)

    def broken_audit(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(routes_origination, "audit_in", broken_audit)
    failed = client.post("/v1/applications", json=documents[1], headers=auth(token, "fails"))
    assert failed.status_code == 500
    # The decision, its application, snapshots, status history, outbox event and idempotency record
    # were all in the rolled-back transaction: nothing is half-stored. The failed call itself leaves
    # one audit row, written by the middleware after the rollback (issue 12: failures are audited).
    assert _counts(engine) == before | {"api_audit": before["api_audit"] + 1}
    monkeypatch.undo()
    retried = client.post("/v1/applications", json=documents[1], headers=auth(token, "fails"))
    assert retried.status_code == 201, retried.text  # the retry decides it for real, once


def test_a_replay_does_no_work_and_a_changed_body_is_409(app_client: tuple[TestClient, str, Engine],
                                                         documents: list[dict[str, Any]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client, token, engine = app_client
    first = client.post("/v1/applications", json=documents[2], headers=auth(token, "replay"))
    assert first.status_code == 201, first.text
    before = _counts(engine)

    def no_gathering(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a replay must not call the data sources")

    monkeypatch.setattr(routes_origination, "prepare_decision", no_gathering)
    again = client.post("/v1/applications", json=documents[2], headers=auth(token, "replay"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = client.post("/v1/applications", json=documents[3], headers=auth(token, "replay"))
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    # Only the two audit rows (written by the middleware for the replay and the conflict).
    assert _counts(engine) == {**before, "api_audit": before["api_audit"] + 2}


def test_a_twin_that_committed_after_the_first_check_is_replayed(app_client: tuple[TestClient, str, Engine],
                                                                 documents: list[dict[str, Any]],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: both requests pass the read-only check; the second finds the first's record inside
    its write transaction and answers with it instead of deciding twice."""
    client, token, engine = app_client
    first = client.post("/v1/applications", json=documents[4], headers=auth(token, "twin"))
    assert first.status_code == 201, first.text
    before = _counts(engine)
    monkeypatch.setattr(routes_origination, "replay_of", lambda *_args: None)  # as if it ran before the commit
    twin = client.post("/v1/applications", json=documents[4], headers=auth(token, "twin"))
    assert twin.status_code == 201 and twin.headers["Idempotent-Replayed"] == "true"
    assert twin.json() == first.json()
    assert _counts(engine) == {**before, "api_audit": before["api_audit"] + 1}


def test_invalid_document_is_422_and_changes_nothing_but_the_audit(app_client: tuple[TestClient, str, Engine],
                                                                  documents: list[dict[str, Any]]) -> None:
    client, token, engine = app_client
    before = _counts(engine)
    bad = {**documents[5], "declared": {**documents[5]["declared"], "requested_amount_minor": -1}}
    refused = client.post("/v1/applications", json=bad, headers=auth(token, "bad"))
    assert refused.status_code == 422 and "requested_amount_minor" in refused.json()["field"], refused.text
    assert _counts(engine) == {**before, "api_audit": before["api_audit"] + 1}


def test_statement_and_transaction_budget(app_client: tuple[TestClient, str, Engine],
                                          documents: list[dict[str, Any]]) -> None:
    """A regression guard on the work per decision: it used to be ~30 statements in 6 write transactions."""
    client, token, engine = app_client
    warm = client.post("/v1/applications", json=documents[6], headers=auth(token, "budget-0"))  # key now cached
    assert warm.status_code == 201, warm.text
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.post("/v1/applications", json=documents[7], headers=auth(token, "budget-1"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.text
    assert not any("api_keys" in s for s in statements)  # the cached key needs no lookup
    if engine.dialect.name == "sqlite":  # one deferred read, one write
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN", "BEGIN IMMEDIATE"], statements
    assert len(statements) <= 27, "\n".join(statements)


# --- the API-key cache ------------------------------------------------------------------------------


def test_key_cache_serves_a_valid_key_until_its_ttl(sqlite_engine: Engine) -> None:
    token = create_key(sqlite_engine, PARTNER, partner_id="p9").token
    clock = FakeClock()
    cache = KeyCache(ttl_s=2.0, clock=clock)
    principal = authenticate(sqlite_engine, token, cache)
    assert isinstance(principal, Principal) and principal.partner_id == "p9" and len(cache) == 1
    # Revoked behind our back (another process): the cache still answers within the TTL...
    with sqlite_engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.key_hash == hash_token(token))
                     .values(revoked_at=datetime.now(UTC)))
    clock.now_s += 1.9
    assert authenticate(sqlite_engine, token, cache) == principal
    # ...and not a moment past it: the bound on a revocation from elsewhere is ttl_s.
    clock.now_s += 0.1
    assert authenticate(sqlite_engine, token, cache) is None
    assert len(cache) == 0  # a revoked key is never cached


def test_revoking_in_this_process_bites_at_once(sqlite_engine: Engine) -> None:
    new = create_key(sqlite_engine, PARTNER, partner_id="p8")
    cache = KeyCache(ttl_s=60.0)
    assert authenticate(sqlite_engine, new.token, cache) is not None
    assert revoke_key(sqlite_engine, new.key_id)
    assert cache.get(hash_token(new.token)) is None
    assert authenticate(sqlite_engine, new.token, cache) is None


def test_a_lookup_racing_a_revocation_is_not_cached(sqlite_engine: Engine) -> None:
    token = create_key(sqlite_engine, PARTNER, partner_id="p7").token
    cache = KeyCache(ttl_s=60.0)
    principal = Principal("k_x", PARTNER, "p7")
    stale = api_keys_module._generation[0]
    revoke_key(sqlite_engine, "k_nobody")  # any revocation moves the generation on
    cache.put(hash_token(token), principal, stale)
    assert len(cache) == 0


def test_unknown_tokens_are_not_cached_and_the_cache_is_bounded(sqlite_engine: Engine) -> None:
    cache = KeyCache(ttl_s=60.0, keys_max=2)
    assert authenticate(sqlite_engine, "lsk_" + "x" * 43, cache) is None
    assert authenticate(sqlite_engine, "not-a-key", cache) is None
    assert len(cache) == 0
    tokens = [create_key(sqlite_engine, PARTNER, partner_id=f"q{i}").token for i in range(3)]
    for token in tokens:
        assert authenticate(sqlite_engine, token, cache) is not None
    assert len(cache) == 2 and cache.get(hash_token(tokens[0])) is None  # least recently used went first


def test_key_cache_refuses_a_long_ttl() -> None:
    with pytest.raises(AssertionError):
        KeyCache(ttl_s=3600.0)


def test_revocation_through_the_api_refuses_a_cached_key(api: tuple[TestClient, dict[str, str], Engine]) -> None:
    client, tokens, _engine = api
    assert client.get("/v1/products", headers=auth(tokens["partner2"])).status_code == 200  # now cached
    listed = client.get("/v1/keys?limit=200", headers=auth(tokens["admin"])).json()["items"]
    partner2 = next(k for k in listed if k["partner_id"] == "p2")
    assert client.post(f"/v1/keys/{partner2['key_id']}/revoke", headers=auth(tokens["admin"])).status_code == 200
    assert client.get("/v1/products", headers=auth(tokens["partner2"])).status_code == 401
