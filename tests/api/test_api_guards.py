"""The permission matrix over every route and role; partner isolation; key hashing; problem+json for
each bad-input class; idempotent retries; parallel repayments apply once."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from conftest import API, auth
from lendstack.api.permissions import MATRIX, ROLES
from lendstack.store.tables_api import api_audit, api_keys

DOMAIN_TABLES = ("applications", "decisions", "loans", "installments", "journal_entries", "idempotency_keys",
                 "api_idempotency", "api_loan_partners", "outbox")


def _snapshot(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in DOMAIN_TABLES}
        counts["revoked"] = int(conn.execute(select(func.count()).where(api_keys.c.revoked_at.is_not(None)))
                                .scalar_one())
    return counts


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, r.path) for r in client.app.routes if isinstance(r, APIRoute)  # type: ignore[attr-defined]
            for m in sorted(r.methods)]


def test_every_route_is_in_the_matrix(api: API) -> None:
    client, _tokens, _engine = api
    api_rows = {k for k in MATRIX if k[1].startswith("/v1")}  # the console's rows are walked in tests/web
    assert set(_routes(client)) == api_rows, "a route without a matrix row is denied to all: add it"


def test_matrix_every_route_every_role(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), application_id, loan_id = booked
    ids = {"product_id": "consumer_installment", "application_id": application_id, "loan_id": loan_id,
           "key_id": "k_missing",
           "subscription_id": "ws_missing", "delivery_id": "wd_missing",
           "policy_id": "consumer", "version": "v0001", "applicant_id": "a_missing"}
    for method, route in _routes(client):
        url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], route)
        for role in ROLES:
            before = _snapshot(engine)
            response = client.request(method, url, json={}, headers=auth(tokens[role], f"m-{role}-{route}"))
            if role in MATRIX[(method, route)]:
                assert response.status_code != 403, (method, route, role, response.text)
            else:
                assert response.status_code == 403, (method, route, role, response.text)
                assert response.json()["status"] == 403 and _snapshot(engine) == before


def test_audit_records_every_state_changing_call(booked: tuple[API, str, str]) -> None:
    (_client, _tokens, engine), _application_id, loan_id = booked
    with engine.connect() as conn:
        rows = conn.execute(select(api_audit.c.method, api_audit.c.path, api_audit.c.role, api_audit.c.client,
                                   api_audit.c.status)).all()
    assert (("POST", f"/v1/loans/{loan_id}/disbursements", "admin")) in {(r[0], r[1], r[2]) for r in rows}
    assert all(r.client for r in rows)
    # Reads are audited only where they touch personal data (who read whose record); never the catalog.
    reads = {r.path for r in rows if r.method == "GET"}
    assert all(path.startswith(("/v1/applications", "/v1/applicants", "/v1/loans")) for path in reads)
    assert {r.method for r in rows} <= {"POST", "GET", "DELETE"}


def test_reads_of_personal_data_are_audited_and_the_catalog_is_not(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), _application_id, loan_id = booked

    def audited_paths() -> list[str]:
        with engine.connect() as conn:
            return [r.path for r in conn.execute(select(api_audit.c.path, api_audit.c.method, api_audit.c.role))
                    if r.method == "GET"]

    before = audited_paths()
    assert client.get(f"/v1/loans/{loan_id}", headers=auth(tokens["auditor"], "r1")).status_code == 200
    assert client.get("/v1/products", headers=auth(tokens["auditor"], "r2")).status_code == 200
    assert sorted(audited_paths()) == sorted([*before, f"/v1/loans/{loan_id}"])


def test_keys_are_hashed_at_rest(api: API) -> None:
    _client, tokens, engine = api
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(select(api_keys.c.key_hash))}
    assert all(token not in stored for token in tokens.values())
    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens.values()} == stored


def test_partner_isolation(booked: tuple[API, str, str]) -> None:
    (client, tokens, _engine), application_id, loan_id = booked
    other = auth(tokens["partner2"])
    for url in (f"/v1/applications/{application_id}", f"/v1/applications/{application_id}/decision",
                f"/v1/loans/{loan_id}", f"/v1/loans/{loan_id}/statement"):
        assert client.get(url, headers=other).status_code == 404, url
    assert client.get("/v1/loans", headers=other).json()["items"] == []
    assert client.get("/v1/applications", headers=other).json()["items"] == []
    paid = client.post(f"/v1/loans/{loan_id}/repayments", json={"amount_minor": 100, "currency": "CNY"},
                       headers=auth(tokens["partner2"], "steal"))
    assert paid.status_code == 404
    assert [x["loan_id"] for x in client.get("/v1/loans", headers=auth(tokens["partner"])).json()["items"]] == [loan_id]


@pytest.mark.parametrize(("body", "headers_extra", "status", "field"), [
    (b"{not json", {}, 400, "body"),
    ({"amount_minor": "ten", "currency": "CNY"}, {}, 422, "amount_minor"),
    ({"amount_minor": -5, "currency": "CNY"}, {}, 422, "amount_minor"),
    ({"amount_minor": 100, "currency": "CNY", "surprise": 1}, {}, 422, "surprise"),
    ({"amount_minor": 100, "currency": "CNY"}, {"Idempotency-Key": None}, 422, "header.Idempotency-Key"),
    (b"x" * (64 * 1024 + 1), {}, 413, "body"),
])
def test_bad_input_is_a_problem_naming_the_field(booked: tuple[API, str, str], body: Any,
                                                 headers_extra: dict[str, Any], status: int, field: str) -> None:
    (client, tokens, engine), _application_id, loan_id = booked
    headers: dict[str, Any] = {**auth(tokens["admin"], "bad-1"), "Content-Type": "application/json", **headers_extra}
    headers = {k: v for k, v in headers.items() if v is not None}
    before = _snapshot(engine)
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = client.post(f"/v1/loans/{loan_id}/repayments", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= set(problem) and problem["field"] == field
    assert _snapshot(engine) == before


def test_unknown_ids_and_auth_failures(api: API) -> None:
    client, tokens, _engine = api
    admin = auth(tokens["admin"])
    for url in ("/v1/loans/L-none", "/v1/applications/none", "/v1/products/none", "/v1/loans/L-none/statement"):
        response = client.get(url, headers=admin)
        assert response.status_code == 404 and response.json()["field"], url
    assert client.get("/v1/loans").status_code == 401
    assert client.get("/v1/loans", headers=auth("lsk_forged")).status_code == 401
    assert client.get("/v1/loans?limit=201", headers=admin).json()["field"] == "query.limit"
    domain = client.post("/v1/schedules/quote", headers=admin, json={
        "amount_minor": 100, "rate_annual": "0.1", "term": 12, "method": "bullet", "currency": "XXX"})
    assert domain.status_code == 422 and domain.json()["field"] == "currency"


def test_idempotent_retry_and_conflict(booked: tuple[API, str, str]) -> None:
    (client, tokens, _engine), _application_id, loan_id = booked
    url, headers = f"/v1/loans/{loan_id}/repayments", auth(tokens["partner"], "retry-1")
    first = client.post(url, json={"amount_minor": 5_000, "currency": "CNY"}, headers=headers)
    again = client.post(url, json={"amount_minor": 5_000, "currency": "CNY"}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    conflict = client.post(url, json={"amount_minor": 6_000, "currency": "CNY"}, headers=headers)
    assert conflict.status_code == 409 and conflict.json()["field"] == "Idempotency-Key"
    statement = client.get(f"/v1/loans/{loan_id}/statement", headers=auth(tokens["admin"])).json()
    assert [e["kind"] for e in statement["entries"]].count("repay") == 1


def test_parallel_repayments_apply_once_per_key(booked: tuple[API, str, str]) -> None:
    (client, tokens, _engine), _application_id, loan_id = booked
    url = f"/v1/loans/{loan_id}/repayments"

    def pay(key: str) -> tuple[int, Any]:
        with TestClient(client.app) as own:  # one client (and event loop) per thread, one SQLite file
            response = own.post(url, json={"amount_minor": 1_000, "currency": "CNY"},
                                headers=auth(tokens["collections_agent"], key))
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        same = list(pool.map(pay, ["same"] * 6))
        distinct = list(pool.map(pay, [f"k{i}" for i in range(4)]))
    assert {s for s, _ in same} == {201} and all(b == same[0][1] for _, b in same)
    assert {s for s, _ in distinct} == {201}
    statement = client.get(f"/v1/loans/{loan_id}/statement", headers=auth(tokens["admin"])).json()
    assert [e["kind"] for e in statement["entries"]].count("repay") == 5  # one for "same", one per distinct key
