"""The console's dashboard and catalog pages through create_site, on SQLite and PostgreSQL: every
staff role reads them in English and Chinese; the dashboard's JSON equals the service's numbers
and moves after a repayment and a new application; promoting / rolling back a model changes the
champion for admin and risk manager only, with an event and an audit row, and nothing otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from lendstack.api.permissions import MATRIX
from lendstack.decisioning import ScoringModel
from lendstack.money import Money
from lendstack.scoring import CreditModel, Registry
from lendstack.services.dashboard import DashboardFilter, dashboard
from lendstack.services.loans import repay_loan
from lendstack.services.staff import DEMO_STAFF, STAFF_ROLES, create_user, csrf_token_for, get_user, start_session
from lendstack.store.tables import outbox
from lendstack.store.tables_api import api_audit
from lendstack.web.auth import SESSION_COOKIE
from lendstack.web.lang import LANG_COOKIE, translate
from lendstack.web.site import create_site
from tests.services.test_dashboard import BOOK_DATE, START, build_book, submit, tiny_credit_model

PAGES = ["/console/dashboard", "/console/dashboard/data", "/console/products", "/console/policies",
         "/console/policies/consumer", "/console/models", "/console/models/v0001"]
TITLES = {"/console/dashboard": "dash.title", "/console/products": "products.title",
          "/console/policies": "policies.title", "/console/policies/consumer": "policies.knockouts",
          "/console/models": "models.title", "/console/models/v0001": "models.metrics"}
PROMOTERS = ("admin", "risk_manager")
NOT_PROMOTERS = ("credit_officer", "collections_agent", "auditor")


@pytest.fixture(scope="module")
def credit() -> CreditModel:
    return tiny_credit_model()


@pytest.fixture
def registry(tmp_path: Path, credit: CreditModel) -> Registry:
    """Two versions of the same tiny model; v0001 is the champion."""
    found = Registry(tmp_path / "models")
    assert [found.save(credit), found.save(credit)] == ["v0001", "v0002"]
    found.promote("v0001")
    return found


class Staff:
    """A logged-in TestClient per staff role. Users are created on first use (through the staff
    service: argon2 hashing is slow, so a test pays only for the roles it uses)."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.app = create_site(engine, registry_dir=registry.root)
        self.tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self.tokens:
            username, password = next((name, pw) for name, r, pw in DEMO_STAFF if r == role)
            create_user(self.engine, username, password, role)
            user = get_user(self.engine, username)
            assert user is not None
            self.tokens[role] = start_session(self.engine, user, client="testclient")
        return self.tokens[role]

    def client(self, role: str, lang: str = "en") -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, self.token(role))
        client.cookies.set(LANG_COOKIE, lang)
        return client

    def csrf(self, role: str) -> str:
        return csrf_token_for(self.token(role))


@pytest.fixture
def staff(engine: Engine, registry: Registry) -> Iterator[Staff]:
    yield Staff(engine, registry)


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _without_clock(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_every_page_renders_for_every_staff_role_in_both_languages(staff: Staff) -> None:
    for role in STAFF_ROLES:
        for lang in ("en", "zh-CN"):
            client = staff.client(role, lang)
            for page in PAGES:
                response = client.get(page)
                assert response.status_code == 200, (role, lang, page, response.text[:300])
                if page.endswith("/data"):
                    assert response.json()["filters"]["currency"] is None
                    continue
                assert f'<html lang="{lang}">' in response.text
                assert translate(lang, TITLES[page]) in response.text, (lang, page)
    assert translate("zh-CN", "dash.title") != translate("en", "dash.title")


def test_pages_need_a_session(staff: Staff) -> None:
    anonymous = TestClient(staff.app, follow_redirects=False)
    for page in PAGES:
        response = anonymous.get(page)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), page
    assert anonymous.get("/console/dashboard/data", headers={"accept": "application/json"}).status_code == 401


def test_dashboard_data_equals_the_service_moves_and_filters(staff: Staff, credit: CreditModel) -> None:
    build_book(staff.engine)
    query = {"start": START.isoformat(), "end": (BOOK_DATE + timedelta(days=1)).isoformat()}
    window = DashboardFilter(START, BOOK_DATE + timedelta(days=1))
    client = staff.client("auditor")
    before = client.get("/console/dashboard/data", params=query).json()
    assert _without_clock(before) == _without_clock(json.loads(json.dumps(dashboard(staff.engine, window))))
    assert before["outstanding"]["CNY"]["reconciled"] and before["outstanding"]["CNY"]["live_loans"] == 4

    repay_loan(staff.engine, "C2", BOOK_DATE + timedelta(days=1), Money(300_000, "CNY"), "late-C2")
    submit(staff.engine, ScoringModel(credit, "dash-v1", "0" * 64), 0, BOOK_DATE + timedelta(days=1))
    after = client.get("/console/dashboard/data", params=query).json()
    assert after["outstanding"]["CNY"]["principal_minor"] < before["outstanding"]["CNY"]["principal_minor"]
    assert after["applications"]["total"] == before["applications"]["total"] + 1
    assert _without_clock(after) == _without_clock(json.loads(json.dumps(dashboard(staff.engine, window))))

    # The page shows the same numbers: tiles, the table fallback and the embedded chart data.
    page = client.get("/console/dashboard", params=query)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'hx-trigger="every 60s"' in page.text  # the open page refreshes itself
    embedded = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page.text, re.S)
    assert embedded is not None
    payload = json.loads(embedded.group(1))
    assert _without_clock(payload["data"]) == _without_clock(after)
    assert payload["labels"]["dash.chart.buckets"] == translate("en", "dash.chart.buckets")
    outstanding = after["outstanding"]["CNY"]["principal_minor"]
    assert f'data-testid="kpi-outstanding-CNY">{outstanding // 100:,}.{outstanding % 100:02d} CNY<' in page.text
    assert 'data-testid="table-buckets"' in page.text and 'data-testid="table-vintages"' in page.text
    assert page.text.count("<tr><td>CNY</td><td>M") == 8  # every bucket, zero rows included
    check_filters(staff)


def check_filters(staff: Staff) -> None:
    client = staff.client("collections_agent", "zh-CN")
    usd = client.get("/console/dashboard/data", params={"currency": "usd", "start": "2026-01-01"}).json()
    assert usd["currencies"] == ["USD"] and usd["filters"] == {"start": "2026-01-01", "end": "2026-05-16",
                                                                "currency": "USD"}  # the latest activity
    page = client.get("/console/dashboard", params={"currency": "USD"})
    assert 'data-testid="kpi-outstanding-USD"' in page.text and 'data-testid="kpi-outstanding-CNY"' not in page.text
    assert '<option value="USD" selected>' in page.text
    for params, field in (({"currency": "XXX"}, "currency"), ({"start": "2026-02-30"}, "start"),
                          ({"start": "2026-05-02", "end": "2026-05-01"}, "start"), ({"end": "soon"}, "end")):
        problem = client.get("/console/dashboard/data", params=params)
        assert problem.status_code == 422 and problem.json()["field"] == field, params
        assert problem.headers["content-type"].startswith("application/problem+json")
        html = client.get("/console/dashboard", params=params)
        assert html.status_code == 422 and f'data-testid="error-{field}"' in html.text
    too_long = client.get("/console/dashboard/data", params={"currency": "X" * 40})
    assert too_long.status_code == 422


def test_catalog_pages_show_products_policies_and_models(staff: Staff) -> None:
    client = staff.client("credit_officer", "zh-CN")
    products = client.get("/console/products").text
    assert "个人消费贷（12期）" in products and 'data-testid="product-usd_personal"' in products
    assert "1,000.00 CNY – 200,000.00 CNY" in products and "14.4%" in products
    policies = client.get("/console/policies").text
    assert 'data-testid="policy-consumer-1"' in policies and 'data-testid="policy-consumer-2"' in policies
    detail = client.get("/console/policies/consumer").text
    assert "AGE_OUT_OF_RANGE" in detail and "申请人年龄不在18-65岁之间" in detail
    assert client.get("/console/policies/nope").status_code == 404
    models = client.get("/console/models").text
    assert 'data-testid="champion">v0001<' in models
    assert 'data-testid="metric-auc-v0002"' in models
    assert 'data-testid="promote-v0002"' not in models  # a credit officer sees no promote button
    model = client.get("/console/models/v0001").text
    assert 'data-testid="calibration-table"' in model and 'data-testid="metric-ks"' in model
    for missing in ("/console/models/v9999", "/console/models/..%2F..", "/console/models/rollback"):
        assert client.get(missing).status_code == 404, missing


def _promote(staff: Staff, role: str, version: str, *, csrf: bool = True) -> Any:
    data = {"reason": "better KS on the 2026 holdout"} | ({"csrf_token": staff.csrf(role)} if csrf else {})
    return staff.client(role).post(f"/console/models/{version}/promote", data=data)


def test_promote_and_rollback_change_the_champion_with_an_event_and_an_audit_row(
        staff: Staff, registry: Registry) -> None:
    page = staff.client("risk_manager").get("/console/models").text
    assert 'data-testid="promote-v0002"' in page and 'data-testid="promote-v0001"' not in page
    response = _promote(staff, "admin", "v0002")
    assert response.status_code == 303 and response.headers["location"] == "/console/models?flash=model_promoted"
    assert registry.champion() == "v0002"
    with staff.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event_type, outbox.c.payload).where(
            outbox.c.aggregate_type == "model")).all()
    assert [e[0] for e in events] == ["model.promoted"]
    assert events[0][1]["actor"] == "user:admin" and events[0][1]["champion"] == "v0002"
    assert events[0][1]["previous"] == "v0001" and events[0][1]["reason"] == "better KS on the 2026 holdout"
    assert _count(staff.engine, api_audit, api_audit.c.key_id == "user:admin",
                  api_audit.c.path == "/console/models/v0002/promote", api_audit.c.status == 303) == 1

    again = _promote(staff, "admin", "v0002")
    assert again.status_code == 409 and 'data-testid="models-error"' in again.text
    assert _promote(staff, "risk_manager", "v9999").status_code == 404

    rolled = staff.client("risk_manager").post("/console/models/rollback", data={"csrf_token": staff.csrf(
        "risk_manager")})
    assert rolled.status_code == 303 and registry.champion() == "v0001"
    nothing_left = staff.client("risk_manager").post("/console/models/rollback", data={"csrf_token": staff.csrf(
        "risk_manager")})
    assert nothing_left.status_code == 409 and registry.champion() == "v0001"
    assert _count(staff.engine, outbox, outbox.c.aggregate_type == "model") == 2


@pytest.mark.parametrize("role", NOT_PROMOTERS)
def test_other_roles_cannot_promote_or_roll_back_and_nothing_changes(staff: Staff, registry: Registry,
                                                                     role: str) -> None:
    events = _count(staff.engine, outbox)
    pointer = (registry.root / "champion.json").read_bytes()
    refused = _promote(staff, role, "v0002")
    assert refused.status_code == 403
    rollback = staff.client(role).post("/console/models/rollback", data={"csrf_token": staff.csrf(role)})
    assert rollback.status_code == 403
    assert (registry.root / "champion.json").read_bytes() == pointer and registry.champion() == "v0001"
    assert _count(staff.engine, outbox) == events
    username = next(name for name, r, _password in DEMO_STAFF if r == role)
    assert _count(staff.engine, api_audit, api_audit.c.key_id == f"user:{username}",
                  api_audit.c.status == 403) == 2  # the guard audits both refusals


def test_promote_without_csrf_or_with_a_tampered_artifact_changes_nothing(staff: Staff, registry: Registry) -> None:
    events = _count(staff.engine, outbox)
    no_token = _promote(staff, "admin", "v0002", csrf=False)
    assert no_token.status_code == 403 and no_token.headers["content-type"].startswith("application/problem+json")
    forged = staff.client("admin").post("/console/models/v0002/promote", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    (registry.path("v0002") / "spec.json").write_text("{}", encoding="utf-8")  # tamper with one file
    tampered = _promote(staff, "admin", "v0002")
    assert tampered.status_code == 422 and 'data-testid="models-error"' in tampered.text
    assert registry.champion() == "v0001" and _count(staff.engine, outbox) == events
    page = staff.client("admin").get("/console/models/v0002")
    assert page.status_code == 200 and 'data-testid="model-load-error"' in page.text


def test_the_permission_matrix_covers_every_page_of_this_module(staff: Staff) -> None:
    """Staff read the dashboard and the catalog; only admin and risk manager change the champion."""
    mine = [(method, route.path) for route in staff.app.router.routes if isinstance(route, APIRoute)
            for method in route.methods
            if route.path.startswith(("/console/dashboard", "/console/products", "/console/policies",
                                      "/console/models"))]
    assert len(mine) == 9
    for method, path in mine:
        expected = frozenset(PROMOTERS) if method == "POST" else frozenset(STAFF_ROLES)
        assert MATRIX[(method, path)] == expected, (method, path)
