"""Issue 12 §5: security headers on the console and the API, Secure cookies unless plain http is asked
for explicitly, and a session that ends after 30 idle minutes (refreshed on use) and after 12 hours."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lendstack.api.headers import API_CSP, CONSOLE_CSP
from lendstack.cli.serve import announce_transport
from lendstack.services import staff
from lendstack.web import create_site
from lendstack.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from lendstack.web.lang import LANG_COOKIE
from lendstack.web.site import INSECURE_HTTP_ENV
from tests.web.conftest import Login, hidden

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "lendstack" / "web" / "templates"
PASSWORD = "correct horse battery"
COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def directives(csp: str) -> dict[str, list[str]]:
    parsed = [part.split() for part in csp.split(";") if part.strip()]
    return {words[0]: words[1:] for words in parsed}


def assert_hardened(response: object, *, csp: str, no_store: bool = True) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in COMMON.items():
        assert headers.get(name) == value, name
    assert headers["content-security-policy"] == csp
    assert directives(csp)["frame-ancestors"] == ["'none'"]
    assert (headers.get("cache-control") == "no-store") is no_store


def test_console_pages_carry_the_headers_and_are_not_stored(login_as: Login) -> None:
    client = login_as("risk_manager")
    for path in ("/console/loans", "/console/applications", "/console/alerts"):
        page = client.get(path)
        assert page.status_code == 200
        assert_hardened(page, csp=CONSOLE_CSP)
    policy = directives(CONSOLE_CSP)
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]


def test_login_page_and_refusals_carry_them_too(site: TestClient) -> None:
    assert_hardened(site.get("/login"), csp=CONSOLE_CSP)
    refused = site.get("/console/loans", follow_redirects=False)
    assert refused.status_code == 303
    assert_hardened(refused, csp=CONSOLE_CSP)


def test_static_files_may_be_cached(site: TestClient) -> None:
    asset = site.get("/static/console.js")
    assert asset.status_code == 200
    assert_hardened(asset, csp=CONSOLE_CSP, no_store=False)


def test_api_json_runs_nothing_and_is_not_stored(site: TestClient) -> None:
    for response in (site.get("/v1/openapi.json"), site.get("/v1/loans"),
                     site.get("/v1/loans", headers={"Authorization": "Bearer lsk_unknown"})):
        assert response.status_code in (200, 401)
        assert_hardened(response, csp=API_CSP)
    assert directives(API_CSP)["default-src"] == ["'none'"]


def test_swagger_docs_get_their_own_policy_with_the_inline_script_by_hash(site: TestClient) -> None:
    docs = site.get("/v1/docs")
    assert docs.status_code == 200
    policy = directives(docs.headers["content-security-policy"])
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"] and docs.headers["x-frame-options"] == "DENY"
    assert all(src.startswith("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/")
               for src in re.findall(r'<script src="([^"]+)"', docs.text))


def test_templates_have_no_inline_script_or_event_handler() -> None:
    """What the console CSP (script-src 'self') would refuse: an inline script or an on* attribute."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 10
    for template in templates:
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, f"{template.name}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name} has an inline event handler"
        assert "javascript:" not in text, template.name


# --------------------------------------------------------------------------- cookies


def _login(client: TestClient, username: str) -> object:
    page = client.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()  # the login form's CSRF cookie
    return client.post("/login", data={"username": username, "password": PASSWORD, "next": "/console/loans",
                                       "csrf_token": hidden(page.text, "csrf_token")}, follow_redirects=False)


def test_cookies_are_secure_by_default(engine: Engine, registry_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INSECURE_HTTP_ENV, raising=False)
    staff.create_user(engine, "alice", PASSWORD, staff.ADMIN)
    with TestClient(create_site(engine, registry_dir=registry_dir), base_url="https://testserver") as client:
        response = _login(client, "alice")
        assert response.status_code == 303  # type: ignore[attr-defined]
        cookies = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
        session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
        assert "Secure" in session and "HttpOnly" in session
        # The cookie never outlives the absolute cap the server enforces.
        assert f"Max-Age={int(staff.SESSION_ABSOLUTE.total_seconds())}" in session
        assert any(c.startswith(f"{LOGIN_CSRF_COOKIE}=") for c in cookies)  # cleared after use
        switched = client.get("/lang/zh-CN", follow_redirects=False)
        language_cookie = switched.headers["set-cookie"]
        assert language_cookie.startswith(f"{LANG_COOKIE}=") and "Secure" in language_cookie


def test_plain_http_is_an_explicit_opt_in(engine: Engine, registry_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INSECURE_HTTP_ENV, "1")
    staff.create_user(engine, "alice", PASSWORD, staff.ADMIN)
    with TestClient(create_site(engine, registry_dir=registry_dir), base_url="http://testserver") as client:
        page = client.get("/login")
        assert "secure" not in page.headers["set-cookie"].lower()
        response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                               "csrf_token": hidden(page.text, "csrf_token")}, follow_redirects=False)
        assert response.status_code == 303 and "Secure" not in response.headers["set-cookie"]
    monkeypatch.delenv(INSECURE_HTTP_ENV)
    assert create_site(engine, registry_dir=registry_dir).state.secure_cookies is True


def test_insecure_http_is_said_loudly_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    announce_transport("127.0.0.1", 8000, insecure_http=True)
    loud = capsys.readouterr().err
    assert "INSECURE" in loud and "Development only" in loud
    announce_transport("0.0.0.0", 8000, insecure_http=True)
    assert "not a loopback address" in capsys.readouterr().err
    announce_transport("127.0.0.1", 8000, insecure_http=False)
    assert "Secure" in capsys.readouterr().err


# --------------------------------------------------------------------------- session lifetime


def test_the_idle_clock_restarts_on_use_and_the_cap_holds(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    now = [start]
    monkeypatch.setattr(staff, "utcnow", lambda: now[0])
    staff.create_user(engine, "alice", PASSWORD, staff.CREDIT)
    user = staff.get_user(engine, "alice")
    assert user is not None
    token = staff.start_session(engine, user)
    step = staff.SESSION_IDLE - timedelta(minutes=1)
    for _ in range(3):  # used every 29 minutes: alive well past 30 minutes after login
        now[0] += step
        assert staff.resolve_session(engine, token) is not None
    assert now[0] - start > 2 * staff.SESSION_IDLE
    now[0] += staff.SESSION_IDLE + timedelta(seconds=1)  # then 30 idle minutes end it
    assert staff.resolve_session(engine, token) is None
    token = staff.start_session(engine, user)
    login_at = now[0]
    while now[0] + step < login_at + staff.SESSION_ABSOLUTE:
        now[0] += step
        assert staff.resolve_session(engine, token) is not None
    now[0] = login_at + staff.SESSION_ABSOLUTE + timedelta(seconds=1)  # in use all day, still capped at 12 h
    assert staff.resolve_session(engine, token) is None
