"""THE permission matrix over the console: every console route × every staff role. A forbidden
call gets 403 and changes nothing; an allowed one gets past the guard. Partners never log in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lendstack.api.permissions import MATRIX, PARTNER, ROLES
from lendstack.services import staff
from lendstack.services.decisions import accept_offer
from lendstack.services.loans import disburse_loan
from lendstack.web.guard import guarded
from tests.web.conftest import TODAY, Login, counts, csrf_of, decide_until


def _console_routes(client: TestClient) -> list[tuple[str, str]]:
    return sorted((method, route.path) for route in client.app.routes  # type: ignore[attr-defined]
                  if isinstance(route, APIRoute) and guarded(route.path) for method in route.methods)


def test_every_console_route_is_in_the_matrix_and_staff_only(site: TestClient) -> None:
    routes = _console_routes(site)
    assert ("POST", "/console/loans/{loan_id}/repay") in routes
    missing = [r for r in routes if r not in MATRIX]
    assert missing == [], "a console route without a matrix row is denied to everyone: add it"
    assert all(PARTNER not in MATRIX[r] for r in routes)
    assert set(staff.STAFF_ROLES) == set(ROLES) - {PARTNER}


def test_matrix_walk_every_console_route_every_role(login_as: Login, engine: Engine, registry_dir: Path,
                                                    documents: list[dict[str, Any]]) -> None:
    found = decide_until(engine, registry_dir, documents, {"refer", "approve"})
    referred, approved = found["refer"], found["approve"]
    loan_id = accept_offer(engine, approved, TODAY, "walk-accept")["loan_id"]
    disburse_loan(engine, loan_id, TODAY, "walk-disburse")
    ids = {"application_id": referred, "loan_id": loan_id, "alert_id": "missing", "delivery_id": "missing",
           "product_id": "consumer_installment", "policy_id": "consumer", "version": "v0001"}
    clients = {role: login_as(role) for role in staff.STAFF_ROLES}
    routes = [r for r in _console_routes(clients["admin"]) if r != ("POST", "/logout")]  # logout: its own test
    for method, route in routes:
        url = re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), "x"), route)
        allowed = MATRIX[(method, route)]
        before = counts(engine)
        for role in [r for r in clients if r not in allowed]:  # the forbidden first: one snapshot proves them
            response = _call(clients[role], method, url, role)
            assert response.status_code == 403, (method, route, role, response.status_code)
            if method != "GET":
                assert response.json()["status"] == 403
        assert counts(engine) == before, (method, route)
        for role in [r for r in clients if r in allowed]:
            response = _call(clients[role], method, url, role)
            assert response.status_code != 403, (method, route, role, response.text[:300])


def _call(client: TestClient, method: str, url: str, role: str) -> Any:
    data = {"csrf_token": csrf_of(client), "amount": "1.00", "idempotency_key": f"walk-{role}",
            "action": "approve", "note": "walk", "command": "acknowledge"}
    return client.request(method, url, data=data if method != "GET" else None, follow_redirects=False)


def test_auditor_is_read_only_everywhere(site: TestClient) -> None:
    writes = [r for r in _console_routes(site) if r[0] != "GET" and r != ("POST", "/logout")]
    assert writes and all("auditor" not in MATRIX[r] for r in writes)
