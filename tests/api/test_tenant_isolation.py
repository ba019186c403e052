"""Issue 12 §4, with two partner keys on SQLite and PostgreSQL: each partner names applicants and
applications in its own namespace. Naming another partner's applicant or application id reaches a
record of one's own and answers exactly as if the other had never used the id; the other's records
are untouched; staff see both. Loan ids booked from offers are random, not derived from the
application id."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from tests.api.conftest import auth, keys_for

from lendstack.api.app import create_app
from lendstack.api.permissions import PARTNER
from lendstack.store.tables import loans
from lendstack.store.tables_origination import applicants, applications
from lendstack.store.tables_webhooks import webhook_deliveries
from lendstack.webhooks import service as wh

Two = tuple[TestClient, dict[str, str], Engine]


@pytest.fixture
def two(engine: Engine, registry_dir: Path) -> Iterator[Two]:
    client = TestClient(create_app(engine, registry_dir=registry_dir))
    yield client, keys_for(engine), engine
    client.close()


def document(documents: list[dict[str, Any]], i: int, application_id: str, applicant_id: str,
             language: str = "") -> dict[str, Any]:
    doc = copy.deepcopy(documents[i])
    doc["application_id"] = application_id
    doc["applicant"]["applicant_id"] = applicant_id
    doc["applicant"].pop("language", None)
    if language:
        doc["applicant"]["language"] = language
    return doc


def submit(client: TestClient, token: str, doc: dict[str, Any], key: str) -> Any:
    return client.post("/v1/applications", json=doc, headers=auth(token, key))


def applicant_rows(engine: Engine) -> dict[tuple[str, str], Any]:
    with engine.connect() as conn:
        return {(r.partner_id, r.reference): r for r in conn.execute(select(applicants))}


def approved_document(documents: list[dict[str, Any]], client: TestClient, token: str) -> int:
    """The index of a document the engine approves (found with a throwaway id under partner p1)."""
    for i in range(len(documents)):
        answer = submit(client, token, document(documents, i, f"probe-{i}", f"probe-c{i}"), f"probe-{i}")
        assert answer.status_code == 201, answer.text
        if answer.json()["decision"]["outcome"] == "approve":
            return i
    raise AssertionError("no approved document")


# --------------------------------------------------------------------------- applicants


def test_another_partners_applicant_id_reaches_an_applicant_of_ones_own(
        two: Two, documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = two
    p1, p2 = tokens[PARTNER], tokens["partner2"]
    unknown = client.get("/v1/applicants/C-9", headers=auth(p2))  # before anyone used C-9
    assert unknown.status_code == 404

    mine = document(documents, 0, "A-1", "C-9", language="zh-CN")
    assert submit(client, p1, mine, "p1-a1").status_code == 201
    other = next(i for i, d in enumerate(documents) if d["applicant"]["segment"] != mine["applicant"]["segment"])
    theirs = document(documents, other, "B-1", "C-9", language="en")  # another person, in another segment
    assert submit(client, p2, theirs, "p2-b1").status_code == 201

    with engine.connect() as conn:  # p1 came first: its applicant kept the id
        p1_row = conn.execute(select(applicants).where(applicants.c.applicant_id == "C-9")).one()
    assert p1_row.language == "zh-CN", "p2 naming p1's applicant changed nothing of p1's"
    assert p1_row.segment == mine["applicant"]["segment"]
    rows = applicant_rows(engine)
    assert rows[("p1", "C-9")].applicant_id == "C-9"
    assert rows[("p1", "C-9")].segment == mine["applicant"]["segment"]
    assert rows[("p2", "C-9")].language == "en" and rows[("p2", "C-9")].segment == theirs["applicant"]["segment"]
    assert rows[("p1", "C-9")].applicant_id != rows[("p2", "C-9")].applicant_id

    seen_by_p1 = client.get("/v1/applicants/C-9", headers=auth(p1)).json()
    seen_by_p2 = client.get("/v1/applicants/C-9", headers=auth(p2)).json()
    assert seen_by_p1["applicant_id"] == seen_by_p2["applicant_id"] == "C-9"  # each its own id
    assert seen_by_p1["segment"] == mine["applicant"]["segment"]
    assert seen_by_p2["segment"] == theirs["applicant"]["segment"]
    assert [a["application_id"] for a in seen_by_p1["items"]] == ["A-1"]
    assert [a["application_id"] for a in seen_by_p2["items"]] == ["B-1"]

    # p1's applicant only p1 has: to p2 exactly an unknown id, before and after p1 made it.
    assert submit(client, p1, document(documents, 2, "A-2", "C-only-p1"), "p1-a2").status_code == 201
    before = client.get("/v1/applicants/C-only-p2-never", headers=auth(p2))
    after = client.get("/v1/applicants/C-only-p1", headers=auth(p2))
    assert before.status_code == after.status_code == 404
    assert after.json() == {**before.json(), "detail": before.json()["detail"].replace("C-only-p2-never",
                                                                                     "C-only-p1")}
    assert after.json() == {**unknown.json(), "detail": unknown.json()["detail"].replace("C-9", "C-only-p1")}
    # staff see every applicant by the book's ids, as before
    admin = auth(tokens["admin"])
    book_ids = {rows[("p1", "C-9")].applicant_id, rows[("p2", "C-9")].applicant_id}
    assert {client.get(f"/v1/applicants/{i}", headers=admin).json()["segment"] for i in book_ids} == {
        mine["applicant"]["segment"], theirs["applicant"]["segment"]}


# --------------------------------------------------------------------------- application ids


def test_another_partners_application_id_is_a_fresh_id(two: Two, documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = two
    p1, p2 = tokens[PARTNER], tokens["partner2"]
    first = submit(client, p1, document(documents, 3, "APP-7", "C-p1"), "p1-app7")
    assert first.status_code == 201
    p1_view = client.get("/v1/applications/APP-7", headers=auth(p1)).json()
    p1_decision = client.get("/v1/applications/APP-7/decision", headers=auth(p1)).json()

    # p2 uses the same id: a fresh decision of its own document, under its own id
    answer = submit(client, p2, document(documents, 4, "APP-7", "C-p2"), "p2-app7")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["application_id"] == body["decision"]["application_id"] == "APP-7"
    assert "." not in body["application_id"]  # never the book's id for it
    p2_view = client.get("/v1/applications/APP-7", headers=auth(p2)).json()
    assert p2_view["partner_id"] == "p2" and p2_view["application_id"] == "APP-7"
    assert p2_view["status"] == body["status"]
    assert client.get("/v1/applications/APP-7/decision", headers=auth(p2)).json() == body["decision"]
    assert [a["application_id"] for a in client.get("/v1/applications", headers=auth(p2)).json()["items"]] == [
        "APP-7"]

    # p1's records are untouched
    assert client.get("/v1/applications/APP-7", headers=auth(p1)).json() == p1_view
    assert client.get("/v1/applications/APP-7/decision", headers=auth(p1)).json() == p1_decision

    # resubmitting one's own id keeps today's answer, naming the caller's id only
    again = submit(client, p2, document(documents, 4, "APP-7", "C-p2"), "p2-app7-again")
    assert again.status_code == 422 and again.json()["field"] == "application_id"
    assert again.json()["detail"] == "'APP-7' is already decided"
    assert submit(client, p1, document(documents, 3, "APP-7", "C-p1"), "p1-again").json() == again.json()

    # staff see both, by the book's ids; p1's kept its id (it came first)
    listed = client.get("/v1/applications", headers=auth(tokens["admin"])).json()["items"]
    assert {a["partner_id"] for a in listed} == {"p1", "p2"} and "APP-7" in {a["application_id"] for a in listed}
    with engine.connect() as conn:
        c = applications.c
        refs = dict(conn.execute(select(c.partner_id, c.application_id).where(c.reference == "APP-7")).all())
    assert refs["p1"] == "APP-7" and refs["p2"] != "APP-7"


def test_a_partner_that_comes_second_gets_the_same_answer_as_one_that_came_first(
        two: Two, documents: list[dict[str, Any]]) -> None:
    """The answer to p2 does not depend on whether p1 used the id before: compared across two ids."""
    client, tokens, _engine = two
    p1, p2 = tokens[PARTNER], tokens["partner2"]
    assert submit(client, p1, document(documents, 5, "SAME", "C-a"), "p1-same").status_code == 201
    taken = submit(client, p2, document(documents, 6, "SAME", "C-b"), "p2-same").json()
    free = submit(client, p2, document(documents, 6, "FREE", "C-c"), "p2-free").json()
    keep = {"outcome", "grade", "pd", "rate_annual", "limit_minor", "reasons", "offer"}
    assert {k: v for k, v in taken["decision"].items() if k in keep} == {
        k: v for k, v in free["decision"].items() if k in keep}
    assert (taken["application_id"], free["application_id"]) == ("SAME", "FREE")


def test_a_partner_is_sent_its_own_id_in_webhooks(two: Two, documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = two
    wh.create_subscription(engine, url="https://hooks.example/in", event_types=["application.decided"],
                           partner_id="p2")
    assert submit(client, tokens[PARTNER], document(documents, 7, "HOOK", "C-h1"), "p1-hook").status_code == 201
    assert submit(client, tokens["partner2"], document(documents, 8, "HOOK", "C-h2"), "p2-hook").status_code == 201
    wh.fan_out(engine, now=datetime.now(UTC))
    with engine.connect() as conn:
        sent = [r.event for r in conn.execute(select(webhook_deliveries))]
    assert [e["aggregate_id"] for e in sent] == ["HOOK"]  # p2's event only, under p2's id


# --------------------------------------------------------------------------- loan ids


def test_loan_ids_are_not_derived_from_application_ids(two: Two, documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = two
    p1 = tokens[PARTNER]
    i = approved_document(documents, client, p1)
    assert submit(client, p1, document(documents, i, "LOAN-APP", "C-loan"), "p1-loan").json()["status"] == "approved"
    accepted = client.post("/v1/offers/LOAN-APP/accept", json={}, headers=auth(p1, "acc-1"))
    assert accepted.status_code == 201, accepted.text
    loan_id = accepted.json()["loan_id"]
    assert "LOAN-APP" not in loan_id and loan_id != "L-LOAN-APP" and len(loan_id) >= 32
    # idempotent: the same key answers the same; another key books no second loan
    assert client.post("/v1/offers/LOAN-APP/accept", json={}, headers=auth(p1, "acc-1")).json() == accepted.json()
    client.post("/v1/offers/LOAN-APP/accept", json={}, headers=auth(p1, "acc-2"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loans)).scalar_one() == 1
        stored = conn.execute(select(applications.c.loan_id).where(applications.c.reference == "LOAN-APP"))
        assert stored.scalar_one() == loan_id
    assert client.get(f"/v1/loans/{loan_id}", headers=auth(p1)).status_code == 200
    assert client.get(f"/v1/loans/{loan_id}", headers=auth(tokens["partner2"])).status_code == 404
    assert client.get("/v1/loans/L-LOAN-APP", headers=auth(tokens["admin"])).status_code == 404
