"""Policies, the model registry (list, one version, promote, rollback), the portfolio report and the
applicant view through the API: filters, pagination, idempotent retries, audit rows and outbox
events, refusals that change nothing, and partner scoping."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from conftest import API, auth, keys_for, submit_until
from lendstack.api.app import create_app
from lendstack.decisioning import list_policies
from lendstack.scoring import Registry
from lendstack.store.tables import outbox
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_origination import applications

Models = tuple[TestClient, dict[str, str], Engine, Registry]


@pytest.fixture
def models_api(sqlite_engine: Engine, registry_dir: Path, tmp_path: Path) -> Iterator[Models]:
    """An app over a private copy of the session registry, with a second version v0002 (a copy of
    v0001 under its own name: enough to promote and roll back without training again)."""
    root = tmp_path / "registry"
    shutil.copytree(registry_dir, root)
    registry = Registry(root)
    first = registry.champion()
    assert first is not None
    second = root / "versions" / "v0002"
    shutil.copytree(registry.path(first), second)
    manifest = json.loads((second / "manifest.json").read_text())
    (second / "manifest.json").write_text(json.dumps({**manifest, "version": "v0002"}))
    with TestClient(create_app(sqlite_engine, registry_dir=root)) as client:
        yield client, keys_for(sqlite_engine), sqlite_engine, registry


def _events(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_type, outbox.c.aggregate_id, outbox.c.payload)
                            .where(outbox.c.aggregate_type == "model").order_by(outbox.c.seq)).all()
    return [(r[0], r[1], dict(r[2])) for r in rows]


def test_policies_list_and_one(api: API) -> None:
    client, tokens, _engine = api
    officer = auth(tokens["credit_officer"])
    listed = client.get("/v1/policies", headers=officer).json()
    expected_ids = sorted({p.policy_id for p in list_policies()})
    assert [p["policy_id"] for p in listed["items"]] == expected_ids and listed["next_offset"] is None
    consumer = next(p for p in listed["items"] if p["policy_id"] == "consumer")
    assert [v["version"] for v in consumer["versions"]] == ["1", "2"]
    assert [v["default"] for v in consumer["versions"]] == [True, False]  # consumer_v1 decides by default
    assert all(len(v["hash"]) == 64 and "document" not in v for v in consumer["versions"])
    assert consumer["name_zh"] and consumer["name_en"]
    paged = client.get("/v1/policies?limit=1&offset=1", headers=officer).json()
    assert [p["policy_id"] for p in paged["items"]] == expected_ids[1:2] and paged["limit"] == 1
    filtered = client.get("/v1/policies?product_id=no_such_product", headers=officer).json()
    assert filtered["items"] == []
    one = client.get("/v1/policies/consumer?version=2", headers=officer).json()
    assert [v["key"] for v in one["versions"]] == ["consumer@2"]
    assert one["versions"][0]["document"]["policy_id"] == "consumer"
    assert client.get("/v1/policies/nope", headers=officer).json()["field"] == "policy_id"
    missing = client.get("/v1/policies/consumer?version=9", headers=officer)
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    assert client.get("/v1/policies", headers=auth(tokens["partner"])).status_code == 403


def test_models_list_filter_and_one(models_api: Models) -> None:
    client, tokens, _engine, registry = models_api
    auditor = auth(tokens["auditor"])
    listed = client.get("/v1/models", headers=auditor).json()
    assert [m["version"] for m in listed["items"]] == ["v0001", "v0002"]
    assert listed["champion"] == "v0001" == registry.champion()
    assert [m["champion"] for m in listed["items"]] == [True, False]
    first = listed["items"][0]
    assert first["kind"] == "gbm" and first["metrics"] and len(first["content_sha256"]) == 64
    only = client.get("/v1/models?champion=false", headers=auditor).json()["items"]
    assert [m["version"] for m in only] == ["v0002"]
    assert client.get("/v1/models?kind=scorecard", headers=auditor).json()["items"] == []
    assert [m["version"] for m in client.get("/v1/models?limit=1&offset=1", headers=auditor).json()["items"]] == [
        "v0002"]
    one = client.get("/v1/models/v0002", headers=auditor).json()
    assert one["version"] == "v0002" and not one["champion"] and "model.joblib" in one["files_sha256"]
    assert client.get("/v1/models/v0009", headers=auditor).json()["field"] == "version"
    traversal = client.get("/v1/models/..%2F..%2Fetc", headers=auditor)
    assert traversal.status_code in (404, 422)


def test_promote_and_rollback_are_idempotent_audited_and_evented(models_api: Models) -> None:
    client, tokens, engine, registry = models_api
    risk = auth(tokens["risk_manager"], "promo-1")
    promoted = client.post("/v1/models/v0002/promote", json={"reason": "better KS"}, headers=risk)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {"champion": "v0002", "previous": "v0001", "reason": "better KS"}
    assert registry.champion() == "v0002"
    replay = client.post("/v1/models/v0002/promote", json={"reason": "better KS"}, headers=risk)
    assert replay.json() == promoted.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert [e[0] for e in _events(engine)] == ["model.promoted"]  # the retry changed nothing
    other = client.post("/v1/models/v0002/promote", json={"reason": "again"}, headers=auth(tokens["admin"], "p2"))
    assert other.status_code == 409 and other.json()["field"] == "version"
    listed = client.get("/v1/models?champion=true", headers=auth(tokens["admin"])).json()
    assert [m["version"] for m in listed["items"]] == ["v0002"]

    back = client.post("/v1/models/rollback", json={}, headers=auth(tokens["admin"], "rb-1"))
    assert back.status_code == 200 and back.json()["champion"] == "v0001" and back.json()["previous"] == "v0002"
    assert registry.champion() == "v0001"
    nothing = client.post("/v1/models/rollback", headers=auth(tokens["admin"], "rb-2"))
    assert nothing.status_code == 409 and nothing.json()["field"] == "champion"
    events = _events(engine)
    assert [(e[0], e[1]) for e in events] == [("model.promoted", "v0002"), ("model.rolled_back", "v0001")]
    assert events[0][2]["role"] == "risk_manager" and events[0][2]["reason"] == "better KS"
    with engine.connect() as conn:
        audited = conn.execute(select(api_audit.c.path, api_audit.c.role, api_audit.c.status)
                               .where(api_audit.c.path.like("/v1/models%"))).all()
    assert ("/v1/models/v0002/promote", "risk_manager", 200) in {tuple(r) for r in audited}
    assert ("/v1/models/rollback", "admin", 409) in {tuple(r) for r in audited}


def test_promote_refusals_change_nothing(models_api: Models) -> None:
    client, tokens, engine, registry = models_api
    for role in ("credit_officer", "auditor", "partner", "collections_agent"):
        denied = client.post("/v1/models/v0002/promote", json={}, headers=auth(tokens[role], f"d-{role}"))
        assert denied.status_code == 403, role
    missing = client.post("/v1/models/v0042/promote", json={}, headers=auth(tokens["admin"], "m1"))
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    bad = client.post("/v1/models/latest/promote", json={}, headers=auth(tokens["admin"], "m2"))
    assert bad.status_code == 422 and bad.json()["field"] == "path.version"
    extra = client.post("/v1/models/v0002/promote", json={"surprise": 1}, headers=auth(tokens["admin"], "m3"))
    assert extra.status_code == 422 and extra.json()["field"] == "surprise"
    long_reason = client.post("/v1/models/v0002/promote", json={"reason": "x" * 501},
                              headers=auth(tokens["admin"], "m4"))
    assert long_reason.status_code == 422 and long_reason.json()["field"] == "reason"
    no_key = client.post("/v1/models/v0002/promote", json={}, headers=auth(tokens["admin"]))
    assert no_key.status_code == 422 and no_key.json()["field"] == "header.Idempotency-Key"
    # A tampered artifact never becomes champion.
    with (registry.path("v0002") / "spec.json").open("a") as handle:
        handle.write(" ")
    tampered = client.post("/v1/models/v0002/promote", json={}, headers=auth(tokens["admin"], "m5"))
    assert tampered.status_code == 422 and tampered.json()["field"] == "version"
    assert "sha256" in tampered.json()["detail"]
    assert registry.champion() == "v0001" and _events(engine) == []


def test_portfolio_report(booked: tuple[API, str, str]) -> None:
    (client, tokens, _engine), _application_id, loan_id = booked
    report = client.get("/v1/reports/portfolio", headers=auth(tokens["risk_manager"]))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["loans"] == 1 and "npl_ratio" in body and "ecl" in body and "by_bucket" in body
    dated = client.get("/v1/reports/portfolio?as_of=2030-01-31", headers=auth(tokens["collections_agent"])).json()
    assert dated["as_of"] == "2030-01-31"
    assert client.get("/v1/reports/portfolio?as_of=notadate", headers=auth(tokens["auditor"])).json()[
        "field"] == "query.as_of"
    for far in ("0001-01-01", "2100-01-01", "9999-12-31"):  # unbounded vintages would be unbounded work
        refused = client.get(f"/v1/reports/portfolio?as_of={far}", headers=auth(tokens["auditor"]))
        assert refused.status_code == 422 and refused.json()["field"] == "query.as_of", far
    started = time.perf_counter()
    assert client.get("/v1/reports/portfolio?as_of=2099-12-31", headers=auth(tokens["auditor"])).status_code == 200
    assert time.perf_counter() - started < 5.0
    assert client.get("/v1/reports/portfolio", headers=auth(tokens["partner"])).status_code == 403
    assert client.get("/v1/reports/portfolio", headers=auth(tokens["credit_officer"])).status_code == 403
    assert loan_id


def test_applicant_applications_partner_scoped(api: API, documents: list[dict[str, Any]]) -> None:
    client, tokens, engine = api
    _i, body = submit_until(client, tokens["partner"], documents, "approve")
    application_id = body["application_id"]
    with engine.connect() as conn:
        applicant_id = conn.execute(select(applications.c.applicant_id)
                                    .where(applications.c.application_id == application_id)).scalar_one()
    mine = client.get(f"/v1/applicants/{applicant_id}", headers=auth(tokens["partner"]))
    assert mine.status_code == 200, mine.text
    view = mine.json()
    assert view["applicant_id"] == applicant_id and view["applicant_type"]
    assert [a["application_id"] for a in view["items"]] == [application_id]
    assert isinstance(view["items"][0]["requested_amount_minor"], int) and "." in view["items"][0]["requested_amount"]
    staff = client.get(f"/v1/applicants/{applicant_id}?status=no_such_status", headers=auth(tokens["auditor"]))
    assert staff.status_code == 200 and staff.json()["items"] == []
    other = client.get(f"/v1/applicants/{applicant_id}", headers=auth(tokens["partner2"]))
    assert other.status_code == 404 and other.json()["field"] == "applicant_id"  # not this partner's
    assert client.get("/v1/applicants/nobody", headers=auth(tokens["admin"])).status_code == 404
    assert client.get(f"/v1/applicants/{applicant_id}?limit=0", headers=auth(tokens["admin"])).json()[
        "field"] == "query.limit"
