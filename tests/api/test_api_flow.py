"""Every route once, end to end: products, quote, submit → decision (reasons en/zh), accept, disburse,
repay, prepay, schedule, statement, reports, keys; the core round trip on SQLite AND PostgreSQL.
Money routes are dated on the book's business date (a body's `on` defaults to it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.book_dates import advance_to

from conftest import API, auth, keys_for, submit_until
from lendstack.api.app import create_app
from lendstack.api.permissions import ROLES
from lendstack.services.business_date import business_date

OPENED = date(2026, 3, 10)


def test_round_trip_on_each_backend(engine: Engine, registry_dir: Path, documents: list[dict[str, Any]]) -> None:
    tokens = keys_for(engine)
    with TestClient(create_app(engine, registry_dir=registry_dir)) as client:
        _i, body = submit_until(client, tokens["partner"], documents, "approve")
        reason_texts = body["decision"]["reasons"]
        assert all("en" in r and "zh" in r for r in reason_texts)
        application_id = body["application_id"]
        # A new book has no business date: the first money command's date opens it.
        loan = client.post(f"/v1/offers/{application_id}/accept", json={"on": OPENED.isoformat()},
                           headers=auth(tokens["partner"], "a1"))
        assert loan.status_code == 201 and loan.json()["status"] == "approved", loan.text
        assert business_date(engine) == OPENED
        loan_id = loan.json()["loan_id"]
        disbursed = client.post(f"/v1/loans/{loan_id}/disbursements", json={}, headers=auth(tokens["admin"], "d1"))
        assert disbursed.status_code == 201 and disbursed.json()["on"] == OPENED.isoformat(), disbursed.text
        paid = client.post(f"/v1/loans/{loan_id}/repayments", json={"amount_minor": 10_000, "currency": "CNY"},
                           headers=auth(tokens["partner"], "r1"))
        assert paid.status_code == 201, paid.text
        statement = client.get(f"/v1/loans/{loan_id}/statement", headers=auth(tokens["auditor"])).json()
        kinds = [e["kind"] for e in statement["entries"]]
        assert kinds.count("disburse") == 1 and kinds.count("repay") == 1
        balance = client.get("/v1/reports/trial-balance", headers=auth(tokens["auditor"])).json()
        assert balance["balanced"] is True


def test_catalog_quote_and_reports(api: API) -> None:
    client, tokens, _engine = api
    products = client.get("/v1/products?limit=2", headers=auth(tokens["partner"])).json()
    assert len(products["items"]) <= 2 and products["limit"] == 2
    first = products["items"][0]["product_id"]
    assert client.get(f"/v1/products/{first}", headers=auth(tokens["auditor"])).json()["product_id"] == first
    quote = client.post("/v1/schedules/quote", headers=auth(tokens["partner"]), json={
        "amount_minor": 1_200_000, "currency": "CNY", "rate_annual": "0.12", "term": 12,
        "method": "equal_installment", "start": "2026-01-15"})
    assert quote.status_code == 200, quote.text
    lines = quote.json()["lines"]
    assert sum(line["principal_minor"] for line in lines) == 1_200_000
    assert quote.json()["apr"].startswith("0.12") and quote.json()["amount"] == "12000.00"
    aging = client.get("/v1/reports/aging", headers=auth(tokens["risk_manager"]))
    assert aging.status_code == 200 and "by_bucket" in aging.json()
    assert client.get("/v1/openapi.json").json()["openapi"].startswith("3.")


def test_loan_routes_and_money_display(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), application_id, loan_id = booked
    officer = auth(tokens["credit_officer"])
    assert client.get(f"/v1/applications/{application_id}", headers=officer).json()["status"] == "booked"
    decision = client.get(f"/v1/applications/{application_id}/decision", headers=officer).json()
    assert decision["outcome"] == "approve"
    listed = client.get("/v1/applications?status=booked", headers=officer).json()["items"]
    assert [a["application_id"] for a in listed] == [application_id]
    view = client.get(f"/v1/loans/{loan_id}", headers=officer).json()
    assert isinstance(view["principal_minor"], int) and view["currency"] == "CNY" and "." in view["principal"]
    schedule = client.get(f"/v1/loans/{loan_id}/schedule", headers=officer).json()["installments"]
    assert sum(i["principal_minor"] for i in schedule) == view["principal_minor"]
    assert [loan["loan_id"] for loan in client.get("/v1/loans?status=active", headers=officer).json()["items"]] == [
        loan_id]
    assert client.get("/v1/loans?status=closed", headers=officer).json()["items"] == []
    # The product allows a prepayment once 3 installments have fallen due: end of day to the third.
    advance_to(engine, date.fromisoformat(schedule[2]["due_date"]))
    prepaid = client.post(f"/v1/loans/{loan_id}/prepayments", headers=auth(tokens["collections_agent"], "p1"),
                          json={"amount_minor": view["principal_minor"] * 2, "currency": "CNY", "full": True})
    assert prepaid.status_code == 201, prepaid.text
    assert client.get(f"/v1/loans/{loan_id}", headers=officer).json()["status"] == "closed"


def test_keys_listing_and_revocation(api: API) -> None:
    client, tokens, _engine = api
    listed = client.get("/v1/keys?limit=200", headers=auth(tokens["admin"])).json()["items"]
    assert len(listed) == len(ROLES) + 1 and all("key_hash" not in k and "key" not in k for k in listed)
    partner2 = next(k for k in listed if k["partner_id"] == "p2")
    revoked = client.post(f"/v1/keys/{partner2['key_id']}/revoke", headers=auth(tokens["admin"]))
    assert revoked.status_code == 200
    refused = client.get("/v1/products", headers=auth(tokens["partner2"]))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/keys/k_nope/revoke", headers=auth(tokens["admin"])).status_code == 404
