"""Logging in and out through the pages, the throttle, session expiry (idle and absolute), CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.web.conftest import Login, counts, csrf_of, hidden

PASSWORD = "correct horse battery"


def _login(client: TestClient, username: str, password: str, next_path: str = "/console/loans") -> object:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"username": username, "password": password, "next": next_path,
                                       "csrf_token": hidden(page.text, "csrf_token")}, follow_redirects=False)


def test_login_ok_sets_a_hardened_cookie_and_opens_pages(site: TestClient, engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "credit_officer")
    response = _login(site, "alice", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/console/loans"  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "ls_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    page = site.get("/console/loans")
    assert page.status_code == 200 and 'data-testid="whoami"' in page.text


def test_plain_http_cookies_only_when_asked_for(engine: Engine, registry_dir: object) -> None:
    from lendstack.web import create_site

    staff.create_user(engine, "alice", PASSWORD, "admin")
    client = TestClient(create_site(engine, registry_dir=registry_dir, secure_cookies=False),  # type: ignore[arg-type]
                        base_url="http://testserver")
    response = _login(client, "alice", PASSWORD)
    assert response.status_code == 303 and "Secure" not in response.headers["set-cookie"]  # type: ignore[attr-defined]


def test_bad_password_shows_an_error_and_sets_no_session(site: TestClient, engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    response = _login(site, "alice", "not the password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert 'data-testid="login-error"' in response.text and SESSION_COOKIE not in site.cookies  # type: ignore[attr-defined]
    assert site.get("/console/loans", follow_redirects=False).status_code == 303


def test_login_form_without_its_token_is_refused(site: TestClient, engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    site.get("/login")
    response = site.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"},
                         follow_redirects=False)
    assert response.status_code == 403 and SESSION_COOKIE not in site.cookies
    site.cookies.delete(LOGIN_CSRF_COOKIE)


def test_login_is_throttled_after_repeated_failures(site: TestClient, engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert _login(site, "alice", "wrong password!").status_code == 401  # type: ignore[attr-defined]
    throttled = _login(site, "alice", PASSWORD)
    assert throttled.status_code == 429 and "login-error" in throttled.text  # type: ignore[attr-defined]
    assert SESSION_COOKIE not in site.cookies


def test_login_redirect_target_stays_on_this_site(site: TestClient, engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    response = _login(site, "alice", PASSWORD, next_path="//evil.example/x")
    assert response.headers["location"] == "/console"  # type: ignore[attr-defined]


def test_logout_ends_the_session_for_good(login_as: Login, engine: Engine) -> None:
    client = login_as("auditor")
    token = str(client.cookies.get(SESSION_COOKIE))
    response = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert staff.resolve_session(engine, token) is None
    client.cookies.set(SESSION_COOKIE, token)  # a kept copy of the cookie is worthless now
    assert client.get("/console/loans", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("gap", ["idle", "absolute"])
def test_expired_session_redirects_pages_and_401s_htmx(login_as: Login, monkeypatch: pytest.MonkeyPatch,
                                                       gap: str) -> None:
    start = datetime.now(UTC)
    now = [start]
    monkeypatch.setattr(staff, "utcnow", lambda: now[0])
    client = login_as("risk_manager")
    if gap == "idle":
        now[0] = start + staff.SESSION_IDLE - timedelta(seconds=5)
        assert client.get("/console/loans").status_code == 200
        now[0] += staff.SESSION_IDLE + timedelta(seconds=5)
    else:
        steps = 0
        while now[0] < start + staff.SESSION_ABSOLUTE - staff.SESSION_IDLE:  # stay active all day long
            now[0] += staff.SESSION_IDLE - timedelta(minutes=1)
            assert client.get("/console/alerts").status_code == 200
            steps += 1
            assert steps < 100
        now[0] = start + staff.SESSION_ABSOLUTE + timedelta(seconds=1)
    page = client.get("/console/loans", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fconsole%2Floans")
    client2_cookie = page.headers.get("set-cookie", "")
    assert SESSION_COOKIE in client2_cookie  # the dead cookie is cleared


def test_expired_session_htmx_gets_401_problem(login_as: Login, engine: Engine) -> None:
    client = login_as("admin")
    staff.end_session(engine, str(client.cookies.get(SESSION_COOKIE)))
    response = client.get("/console/reviews", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401 and response.headers["hx-redirect"] == "/login"


@pytest.mark.parametrize("token", ["", "forged-token", "header-forged"])
def test_csrf_missing_or_forged_is_refused_and_writes_nothing(login_as: Login, engine: Engine, token: str) -> None:
    client = login_as("collections_agent")
    before = counts(engine)
    if token == "header-forged":
        real = csrf_of(client)
        # Change the last character to one it is not: a fixed replacement would equal the real
        # token whenever the token already ended in it (1 run in 16 passed CSRF and got a 404).
        forged = real[:-1] + ("1" if real[-1] == "0" else "0")
        assert forged != real
        response = client.post("/console/loans/L-x/repay", data={"amount": "10.00", "idempotency_key": "k1"},
                               headers={"X-CSRF-Token": forged})
    else:
        response = client.post("/console/loans/L-x/repay",
                               data={"amount": "10.00", "idempotency_key": "k1", "csrf_token": token})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 403 and body["field"] == "csrf_token" and {"type", "title", "detail"} <= set(body)
    assert counts(engine) == before
    with engine.connect() as conn:
        audited = conn.execute(select(api_audit.c.status, api_audit.c.path).where(
            api_audit.c.key_id.like("user:collections%"))).all()
    assert (403, "/console/loans/L-x/repay") in [tuple(r) for r in audited]


def test_csrf_token_in_header_is_accepted(login_as: Login) -> None:
    client = login_as("admin")
    response = client.post("/console/reviews/A-missing/assign", headers={"X-CSRF-Token": csrf_of(client),
                                                                        "HX-Request": "true"})
    assert response.status_code != 403  # past the guard: the route answers (here: no such review)


def test_language_from_cookie_then_accept_language(login_as: Login) -> None:
    client = login_as("auditor")
    assert "贷款" in client.get("/console/loans", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Outstanding principal" in client.get("/console/loans", headers={"Accept-Language": "en-US"}).text
    switched = client.get("/lang/zh-CN?next=/console/loans", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/loans"
    assert "未偿本金" in client.get("/console/loans", headers={"Accept-Language": "en"}).text
    assert client.get("/lang/xx?next=https://evil.example", follow_redirects=False).headers["location"] == "/console"


def test_a_change_that_fails_with_a_server_error_is_audited(login_as: Login, engine: Engine,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit row is written when the response starts; a route that raises never starts one, and
    is audited as a 500 all the same."""
    from lendstack.web import routes_applications

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the review store is down")

    monkeypatch.setattr(routes_applications, "assign_review", broken)
    client = login_as("admin")
    client_500 = type(client)(client.app, raise_server_exceptions=False, cookies=client.cookies)
    response = client_500.post("/console/reviews/A-1/assign", headers={"X-CSRF-Token": csrf_of(client)})
    assert response.status_code == 500
    with engine.connect() as conn:
        audited = conn.execute(select(api_audit.c.status, api_audit.c.path).where(
            api_audit.c.key_id.like("user:admin%"))).all()
    assert (500, "/console/reviews/A-1/assign") in [tuple(r) for r in audited]


def test_a_change_is_audited_before_its_response_is_sent(login_as: Login, engine: Engine,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """If the audit row cannot be written, the client does not see the change's success."""
    from lendstack.web import guard

    client = login_as("admin")
    token = csrf_of(client)

    def failing_audit(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(guard, "audit_request", failing_audit)
    client_500 = type(client)(client.app, raise_server_exceptions=False, cookies=client.cookies)
    response = client_500.post("/console/reviews/A-missing/assign", headers={"X-CSRF-Token": token})
    assert response.status_code == 500
