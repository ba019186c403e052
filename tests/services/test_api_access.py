"""services/api_access.py on SQLite and PostgreSQL: API keys as use cases (made, found by hash,
revoked, listed), errors that name the field, and the kept first response of an Idempotency-Key."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from lendstack.errors import ErrorKind, LendstackError
from lendstack.services import api_access


def test_a_key_is_shown_once_found_by_its_hash_and_revoked(engine: Engine) -> None:
    issued = api_access.create_key(engine, "partner", partner_id="p1", label="Partner one")
    assert issued.token.startswith(api_access.PREFIX) and issued.role == "partner" and issued.partner_id == "p1"
    found = api_access.key_by_hash(engine, api_access.hash_token(issued.token))
    assert found is not None and (found.key_id, found.role, found.partner_id, found.revoked) == (
        issued.key_id, "partner", "p1", False)
    assert api_access.key_by_hash(engine, api_access.hash_token("lsk_guessed")) is None
    assert api_access.revoke_key(engine, issued.key_id) is True
    assert api_access.revoke_key(engine, "k_nope") is False
    revoked = api_access.key_by_hash(engine, api_access.hash_token(issued.token))
    assert revoked is not None and revoked.revoked
    listed = api_access.list_keys(engine, 10, 0)
    assert [k.to_json()["key_id"] for k in listed] == [issued.key_id]
    assert list(listed[0].to_json()) == ["key_id", "role", "partner_id", "label", "created_at", "revoked"]
    assert listed[0].to_json()["revoked"] is True and listed[0].label == "Partner one"


@pytest.mark.parametrize(("role", "partner_id", "field"), [
    ("root", "", "role"), ("partner", "", "partner_id"), ("admin", "p1", "partner_id")])
def test_a_key_that_cannot_be_made_names_the_field(engine: Engine, role: str, partner_id: str, field: str) -> None:
    with pytest.raises(api_access.ApiKeyError) as caught:
        api_access.create_key(engine, role, partner_id=partner_id)
    assert isinstance(caught.value, LendstackError) and caught.value.kind is ErrorKind.INVALID
    assert caught.value.field == field
    assert api_access.list_keys(engine, 10, 0) == []


def test_the_first_response_is_kept_and_a_twin_does_not_replace_it(engine: Engine) -> None:
    assert api_access.kept_response(engine, "k_1", "abc") is None
    api_access.remember_response(engine, "k_1", "abc", "POST", "/v1/x", "h" * 64, 201, {"n": 1})
    api_access.remember_response(engine, "k_1", "abc", "POST", "/v1/x", "i" * 64, 201, {"n": 2})  # a racing twin
    kept = api_access.kept_response(engine, "k_1", "abc")
    assert kept is not None and (kept.request_hash, kept.status, kept.body) == ("h" * 64, 201, {"n": 1})
