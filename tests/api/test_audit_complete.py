"""The audit trail misses nothing (issue 12 §3): every call that must be audited (a change, or a read
of personal data) leaves EXACTLY one api_audit row with the status the client got, whether it was
refused (401, 403, 413, 429), failed (404, 422, 500) or served, on the API and on the console."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from conftest import auth, keys_for
from lendstack.api import routes_catalog, routes_loans
from lendstack.api.app import create_app
from lendstack.api.problems import BODY_LIMIT_BYTES
from lendstack.api.ratelimit import Rate, RateLimiter, RateLimits
from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.web import create_site
from lendstack.web import routes_loans as console_loans
from lendstack.web.auth import SESSION_COOKIE

QUOTE = {"amount_minor": 1_000_000, "rate_annual": "0.12", "term": 12, "method": "equal_installment"}
HUGE = {"note": "x" * (BODY_LIMIT_BYTES + 1)}


class Boom(RuntimeError):
    pass


def boom(*_args: Any, **_kwargs: Any) -> Any:
    raise Boom("a fault no handler answers")


def rows(engine: Engine) -> list[Any]:
    a = api_audit.c
    with engine.connect() as conn:
        return list(conn.execute(select(a.key_id, a.method, a.path, a.status).order_by(a.id)))


def exactly_one_row(engine: Engine, call: Callable[[], Any]) -> tuple[Any, Any]:
    """Make the call; assert it left one audit row, carrying the status the client got."""
    before = len(rows(engine))
    response = call()
    after = rows(engine)
    assert len(after) == before + 1, (response.status_code, after[before:])
    assert after[-1].status == response.status_code, (after[-1], response.status_code)
    return response, after[-1]


@pytest.fixture
def api(engine: Engine, registry_dir: Path) -> tuple[FastAPI, TestClient, dict[str, str]]:
    limiter = RateLimiter(RateLimits(by_key={}, by_role={"partner": Rate(0.001, 3)}))
    app = create_app(engine, registry_dir=registry_dir, rate_limits=limiter)
    return app, TestClient(app, raise_server_exceptions=False), keys_for(engine)


def test_api_every_kind_of_answer_leaves_exactly_one_row(api: tuple[FastAPI, TestClient, dict[str, str]],
                                                        engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _app, client, tokens = api
    admin, partner = auth(tokens["admin"]), auth(tokens["partner"])
    revoke = "/v1/keys/k_missing/revoke"
    response, row = exactly_one_row(engine, lambda: client.post(revoke))
    assert response.status_code == 401 and row.key_id == ""
    response, row = exactly_one_row(engine, lambda: client.post(revoke, headers=partner))
    assert response.status_code == 403 and row.key_id != ""  # a refused caller is named
    assert exactly_one_row(engine, lambda: client.post(revoke, headers=admin))[0].status_code == 404
    assert exactly_one_row(engine, lambda: client.post("/v1/schedules/quote", json=HUGE,
                                                       headers=admin))[0].status_code == 413
    assert exactly_one_row(engine, lambda: client.post("/v1/schedules/quote", json={},
                                                       headers=admin))[0].status_code == 422
    assert exactly_one_row(engine, lambda: client.post("/v1/schedules/quote", json=QUOTE,
                                                       headers=admin))[0].status_code == 200
    for _ in range(2):  # the partner's bucket holds 3; the 403 above took one
        client.post("/v1/schedules/quote", json=QUOTE, headers=partner)
    assert exactly_one_row(engine, lambda: client.post("/v1/schedules/quote", json=QUOTE,
                                                       headers=partner))[0].status_code == 429
    monkeypatch.setattr(routes_catalog, "build_schedule", boom)
    response, _row = exactly_one_row(engine, lambda: client.post("/v1/schedules/quote", json=QUOTE, headers=admin))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 500
    # A bug answers with an error id that the log line beside the traceback carries too.
    error_id = response.json()["error_id"]
    assert len(error_id) == 12 and error_id in response.json()["detail"]
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)


def test_api_personal_data_reads_served_refused_or_failed(api: tuple[FastAPI, TestClient, dict[str, str]],
                                                         engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _app, client, tokens = api
    admin = auth(tokens["admin"])
    assert exactly_one_row(engine, lambda: client.get("/v1/loans", headers=admin))[0].status_code == 200
    assert exactly_one_row(engine, lambda: client.get("/v1/loans"))[0].status_code == 401
    assert exactly_one_row(engine, lambda: client.get("/v1/loans/L-missing", headers=admin))[0].status_code == 404
    monkeypatch.setattr(routes_loans, "principal_of", boom)
    assert exactly_one_row(engine, lambda: client.get("/v1/loans", headers=admin))[0].status_code == 500
    before = len(rows(engine))
    assert client.get("/v1/products", headers=admin).status_code == 200  # not personal data: no row
    assert len(rows(engine)) == before


def test_api_fault_is_still_raised_for_the_server_log(api: tuple[FastAPI, TestClient, dict[str, str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app, _client, tokens = api
    monkeypatch.setattr(routes_catalog, "build_schedule", boom)
    with pytest.raises(Boom):
        TestClient(app).post("/v1/schedules/quote", json=QUOTE, headers=auth(tokens["admin"]))


# --------------------------------------------------------------------------- the console


@pytest.fixture
def console(engine: Engine, registry_dir: Path) -> tuple[TestClient, TestClient, str]:
    """(a logged-in admin, an anonymous client, the admin's CSRF token) on one site."""
    site = create_site(engine, registry_dir=registry_dir, secure_cookies=False)
    staff.create_user(engine, "boss", "correct horse battery", "admin")
    user = staff.get_user(engine, "boss")
    assert user is not None
    token = staff.start_session(engine, user)
    admin = TestClient(site, raise_server_exceptions=False)
    admin.cookies.set(SESSION_COOKIE, token)
    return admin, TestClient(site, raise_server_exceptions=False), staff.csrf_token_for(token)


def test_console_every_kind_of_answer_leaves_exactly_one_row(console: tuple[TestClient, TestClient, str],
                                                            engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, anonymous, csrf = console
    repay = "/console/loans/L-missing/repay"
    form = {"amount": "10.00", "idempotency_key": "k1", "csrf_token": csrf}
    htmx = {"HX-Request": "true"}
    assert exactly_one_row(engine, lambda: anonymous.post(repay, data=form, headers=htmx))[0].status_code == 401
    assert exactly_one_row(engine, lambda: admin.post(repay, data={**form, "csrf_token": "forged"}))[0] \
        .status_code == 403
    assert exactly_one_row(engine, lambda: admin.post("/console/nothing-here", data=form))[0].status_code == 404
    assert exactly_one_row(engine, lambda: admin.post(repay, data={**form, "note": "x" * (BODY_LIMIT_BYTES + 1)})
                           )[0].status_code == 413
    assert exactly_one_row(engine, lambda: admin.post(repay, data=form))[0].status_code in (404, 422)
    monkeypatch.setattr(console_loans, "_typed_values", boom)
    assert exactly_one_row(engine, lambda: admin.post(repay, data=form))[0].status_code == 500
    monkeypatch.setattr(console_loans, "loan_rows", boom)
    assert exactly_one_row(engine, lambda: admin.get("/console/loans"))[0].status_code == 500  # a personal read


def test_console_refused_personal_data_read_is_audited(console: tuple[TestClient, TestClient, str],
                                                       engine: Engine) -> None:
    admin, anonymous, _csrf = console
    assert exactly_one_row(engine, lambda: admin.get("/console/loans"))[0].status_code == 200
    response, row = exactly_one_row(engine, lambda: anonymous.get("/console/loans", follow_redirects=False))
    assert response.status_code == 303 and row.key_id == "" and row.path == "/console/loans"


def test_console_throttled_refusals_leave_one_row_per_run(console: tuple[TestClient, TestClient, str],
                                                          engine: Engine) -> None:
    from lendstack.api.ratelimit import ClientLimiter, ClientLimits

    _admin, anonymous, _csrf = console
    app = anonymous.app
    app.state.refusal_limiter = ClientLimiter(ClientLimits(per_client=Rate(0.001, 1),  # type: ignore[attr-defined]
                                                           overall=Rate(1e6, 1_000_000)))
    htmx = {"HX-Request": "true"}
    assert exactly_one_row(engine, lambda: anonymous.post("/console/loans/L1/repay", headers=htmx))[0] \
        .status_code == 401
    assert exactly_one_row(engine, lambda: anonymous.post("/console/loans/L1/repay", headers=htmx))[0] \
        .status_code == 429
    before = len(rows(engine))
    assert {anonymous.post("/console/loans/L1/repay", headers=htmx).status_code for _ in range(5)} == {429}
    assert len(rows(engine)) == before  # the rest of the run: answered from memory, no rows


def test_login_every_kind_of_answer_leaves_exactly_one_row(console: tuple[TestClient, TestClient, str],
                                                           engine: Engine) -> None:
    _admin, anonymous, _csrf = console
    page = anonymous.get("/login")
    token = page.cookies.get("ls_login_csrf") or anonymous.cookies.get("ls_login_csrf")
    good = {"username": "boss", "password": "correct horse battery", "csrf_token": str(token)}

    def post(**changes: str) -> Any:
        return anonymous.post("/login", data={**good, **changes}, follow_redirects=False)

    assert exactly_one_row(engine, lambda: post(csrf_token="forged"))[0].status_code == 403
    assert exactly_one_row(engine, lambda: post(password=""))[0].status_code == 422
    assert exactly_one_row(engine, lambda: post(username="u" * 301))[0].status_code == 422
    assert exactly_one_row(engine, lambda: post(password="wrong password!"))[0].status_code == 401
    assert exactly_one_row(engine, lambda: post())[0].status_code == 303
