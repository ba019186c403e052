"""POST /v1/loans/{loan_id}/refund: who may (admin and collections staff, never a partner), problem+json
naming the field, Idempotency-Key replays, and a refused call changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.test_api_guards import _snapshot

from conftest import API, auth
from lendstack.api.permissions import MATRIX, ROLES

OVERPAID_MINOR = 100_000
ROUTE = ("POST", "/v1/loans/{loan_id}/refund")


@pytest.fixture
def overpaid(booked: tuple[API, str, str]) -> tuple[TestClient, dict[str, str], Any, str]:
    """The partner's disbursed loan with OVERPAID_MINOR in suspense (paid before anything is due)."""
    (client, tokens, engine), _application_id, loan_id = booked
    paid = client.post(f"/v1/loans/{loan_id}/repayments", json={"amount_minor": OVERPAID_MINOR, "currency": "CNY"},
                       headers=auth(tokens["partner"], "over-1"))
    assert paid.status_code == 201 and paid.json()["suspense_minor"] == OVERPAID_MINOR, paid.text
    return client, tokens, engine, loan_id


def test_the_roles_that_take_repayments_refund_and_partners_do_not() -> None:
    # The staff who take repayments, and the back office (operations); never a partner.
    assert MATRIX[ROUTE] == frozenset({"admin", "collections_agent", "operations"})
    assert MATRIX[ROUTE] == (MATRIX[("POST", "/v1/loans/{loan_id}/repayments")] - {"partner"}) | {"operations"}


def test_each_role_against_the_refund_route(overpaid: tuple[TestClient, dict[str, str], Any, str]) -> None:
    client, tokens, engine, loan_id = overpaid
    left = OVERPAID_MINOR
    for role in ROLES:
        before = _snapshot(engine)
        response = client.post(f"/v1/loans/{loan_id}/refund", json={"amount_minor": 100, "currency": "CNY"},
                               headers=auth(tokens[role], f"refund-{role}"))
        if role in MATRIX[ROUTE]:
            left -= 100
            assert response.status_code == 201, (role, response.text)
            assert response.json()["suspense_minor"] == left and response.json()["refunded_minor"] == 100
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert _snapshot(engine) == before
    statement = client.get(f"/v1/loans/{loan_id}/statement", headers=auth(tokens["admin"])).json()
    assert statement["loan"]["suspense_minor"] == left == OVERPAID_MINOR - 100 * len(MATRIX[ROUTE])
    refunds = [e for e in statement["entries"] if e["kind"] == "refund"]
    assert len(refunds) == len(MATRIX[ROUTE])
    assert all(sum(p["amount_minor"] for p in e["postings"]) == 0 for e in refunds)
    assert {(p["account"], p["amount_minor"]) for p in refunds[0]["postings"]} == {("2241", 100), ("1002", -100)}


@pytest.mark.parametrize(("body", "field", "detail"), [
    ({"amount_minor": OVERPAID_MINOR + 1, "currency": "CNY"}, "amount_minor", f"suspense balance of {OVERPAID_MINOR}"),
    ({"amount_minor": 0, "currency": "CNY"}, "amount_minor", ""),
    ({"amount_minor": -1, "currency": "CNY"}, "amount_minor", ""),
    ({"amount_minor": "ten", "currency": "CNY"}, "amount_minor", ""),
    ({"amount_minor": 100, "currency": "USD"}, "currency", "USD"),
    ({"amount_minor": 100, "currency": "CNY", "on": "2000-01-01"}, "on", "before the business date"),
    ({"amount_minor": 100, "currency": "CNY", "on": "2199-01-01"}, "on", "after the business date"),
    ({"amount_minor": 100, "currency": "CNY", "extra": 1}, "extra", ""),
])
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
        overpaid: tuple[TestClient, dict[str, str], Any, str], body: dict[str, Any], field: str, detail: str) -> None:
    client, tokens, engine, loan_id = overpaid
    before = _snapshot(engine)
    response = client.post(f"/v1/loans/{loan_id}/refund", json=body, headers=auth(tokens["admin"], "bad-refund"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field and detail in problem["detail"]
    assert _snapshot(engine) == before


def test_a_retry_replays_and_another_body_with_the_key_is_a_conflict(
        overpaid: tuple[TestClient, dict[str, str], Any, str]) -> None:
    client, tokens, engine, loan_id = overpaid
    url, headers = f"/v1/loans/{loan_id}/refund", auth(tokens["collections_agent"], "r-1")
    first = client.post(url, json={"amount_minor": OVERPAID_MINOR, "currency": "CNY"}, headers=headers)
    assert first.status_code == 201 and first.json()["suspense_minor"] == 0
    before = _snapshot(engine)
    again = client.post(url, json={"amount_minor": OVERPAID_MINOR, "currency": "CNY"}, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = client.post(url, json={"amount_minor": 5, "currency": "CNY"}, headers=headers)
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    assert _snapshot(engine) == before


def test_unknown_loan_and_missing_key(overpaid: tuple[TestClient, dict[str, str], Any, str]) -> None:
    client, tokens, engine, loan_id = overpaid
    before = _snapshot(engine)
    unknown = client.post("/v1/loans/L-none/refund", json={"amount_minor": 1, "currency": "CNY"},
                          headers=auth(tokens["admin"], "u-1"))
    assert unknown.status_code == 404 and unknown.json()["field"] == "loan_id"
    keyless = client.post(f"/v1/loans/{loan_id}/refund", json={"amount_minor": 1, "currency": "CNY"},
                          headers=auth(tokens["admin"]))
    assert keyless.status_code == 422 and keyless.json()["field"] == "header.Idempotency-Key"
    assert _snapshot(engine) == before


def test_the_route_is_in_the_contract(overpaid: tuple[TestClient, dict[str, str], Any, str]) -> None:
    client, _tokens, _engine, _loan_id = overpaid
    operation = client.get("/v1/openapi.json").json()["paths"]["/v1/loans/{loan_id}/refund"]["post"]
    assert {"201", "403", "404", "409", "422"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
