"""The staff management page (admin only): every route × every role, creating users (errors name the
field, nothing written), disabling (logs the user out at once; never oneself), enabling, setting a
password (old one fails, sessions end), unlocking, the navigation link and both languages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from lendstack.api.permissions import MATRIX
from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_staff import staff_login_failures, staff_sessions, staff_users
from tests.web.conftest import Login, csrf_of, hidden

PASSWORD = "correct horse battery"  # the login_as fixture's password
NEW_PASSWORD = "a different horse 42"
STAFF_ROUTES = [
    ("GET", "/console/staff"), ("POST", "/console/staff"), ("POST", "/console/staff/{username}/disable"),
    ("POST", "/console/staff/{username}/enable"), ("POST", "/console/staff/{username}/password"),
    ("POST", "/console/staff/{username}/unlock"),
]


def _state(engine: Engine) -> dict[str, Any]:
    """Every staff row but the audit trail (a refused POST leaves its audit row, nothing else) and the
    idle clock of the sessions (every request touches its own)."""
    s = staff_sessions.c
    with engine.connect() as conn:
        state = {name: sorted(tuple(r) for r in conn.execute(select(table)).all())
                 for name, table in (("users", staff_users), ("failures", staff_login_failures))}
        state["sessions"] = sorted(tuple(r) for r in conn.execute(select(s.token_hash, s.username, s.created_at)))
    return state


def _lock(engine: Engine, username: str) -> None:
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert staff.authenticate(engine, username, "wrong password!") is None


def _post(client: TestClient, url: str, **fields: str) -> Any:
    return client.post(url, data={"csrf_token": csrf_of(client), **fields}, follow_redirects=False)


def _login_page(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "next": "/console/loans",
                                       "csrf_token": hidden(page.text, "csrf_token")}, follow_redirects=False)


# --------------------------------------------------------------------------- permissions


def test_the_matrix_gives_every_staff_route_to_admin_only(site: TestClient) -> None:
    app_routes = {(m, r.path) for r in site.app.routes  # type: ignore[attr-defined]
                  if getattr(r, "path", "").startswith("/console/staff") for m in getattr(r, "methods", ())}
    assert app_routes == set(STAFF_ROUTES)
    assert all(MATRIX[route] == frozenset({"admin"}) for route in STAFF_ROUTES if route[0] == "POST")
    assert MATRIX[("GET", "/console/staff")] == frozenset({"admin", "auditor"})  # read-only on everything


def test_every_staff_route_every_role_forbidden_change_nothing(login_as: Login, engine: Engine) -> None:
    clients = {role: login_as(role) for role in staff.STAFF_ROLES}
    target = staff.create_user(engine, "target", PASSWORD, "credit_officer").username
    user = staff.get_user(engine, target)
    assert user is not None
    staff.start_session(engine, user)
    _lock(engine, target)
    fields = {"username": "newbie", "display_name": "New", "role": "auditor", "password": NEW_PASSWORD}
    for method, route in STAFF_ROUTES:
        url = route.replace("{username}", target)
        before = _state(engine)
        for role in [r for r in staff.STAFF_ROLES if r != "admin" and not (method == "GET" and r == "auditor")]:
            client = clients[role]
            response = client.get(url) if method == "GET" else _post(client, url, **fields)
            assert response.status_code == 403, (method, route, role)
            assert _state(engine) == before, (method, route, role)
        # disable before enable: the admin's call changes something every time
        response = clients["admin"].get(url) if method == "GET" else _post(clients["admin"], url, **fields)
        assert response.status_code in (200, 303), (method, route, response.text[:300])
        assert method == "GET" or _state(engine) != before, (method, route)
    with engine.connect() as conn:
        refused = conn.execute(select(api_audit.c.key_id, api_audit.c.status).where(
            api_audit.c.path.like("/console/staff%"), api_audit.c.status == 403)).all()
    others = len(staff.STAFF_ROLES) - 1
    assert len(refused) == others * 5  # every refused POST (each role but admin x 5 POST routes) is audited


def test_only_admin_and_auditor_see_the_staff_link(login_as: Login) -> None:
    for role in staff.STAFF_ROLES:
        page = login_as(role).get("/console/loans")
        assert page.status_code == 200
        assert ('data-testid="nav-staff"' in page.text) == (role in ("admin", "auditor")), role


def test_the_auditor_sees_the_list_without_any_command(login_as: Login, engine: Engine) -> None:
    staff.create_user(engine, "dora", PASSWORD, "credit_officer", display_name="Dora")
    page = login_as("auditor").get("/console/staff")
    assert page.status_code == 200
    assert 'data-username="dora"' in page.text
    for command in ("staff-form", "staff-disable", "staff-enable", "staff-set-password", "staff-unlock"):
        assert f'data-testid="{command}"' not in page.text, command
    admin_page = login_as("admin").get("/console/staff")
    assert 'data-testid="staff-form"' in admin_page.text and 'data-testid="staff-disable"' in admin_page.text


# --------------------------------------------------------------------------- the list and creating users


def test_list_shows_status_and_renders_in_both_languages(login_as: Login, engine: Engine) -> None:
    admin = login_as("admin")
    staff.create_user(engine, "gone", PASSWORD, "auditor", display_name="Gone Away")
    staff.disable_user(engine, "gone")
    staff.create_user(engine, "stuck", PASSWORD, "risk_manager")
    _lock(engine, "stuck")
    for lang, heading, disabled in (("en", "Staff users", "Disabled"), ("zh-CN", "员工用户", "已停用")):
        admin.cookies.set("ls_lang", lang)
        page = admin.get("/console/staff")
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text
        assert 'data-username="gone"' in page.text and "Gone Away" in page.text and disabled in page.text
        assert 'data-testid="staff-locked"' in page.text and 'data-testid="staff-unlock"' in page.text
    rows = page.text.split('data-testid="staff-row"')
    mine = next(r for r in rows if 'data-username="admin0"' in r)
    assert 'data-testid="staff-disable"' not in mine  # no button to disable oneself
    assert mine.count(" UTC") == 2  # created, and the last login (the session the fixture opened)
    assert next(r for r in rows if 'data-username="gone"' in r).count(" UTC") == 1  # never logged in


def test_create_a_user_then_they_log_in(login_as: Login, engine: Engine, site: TestClient) -> None:
    admin = login_as("admin")
    made = _post(admin, "/console/staff", username="carol", display_name="Carol C.", role="auditor",
                 password=NEW_PASSWORD)
    assert made.status_code == 303 and made.headers["location"] == "/console/staff?flash=staff_created"
    page = admin.get(made.headers["location"])
    assert 'data-username="carol"' in page.text and 'data-testid="flash"' in page.text
    assert staff.get_user(engine, "carol") == staff.StaffUser("carol", "auditor", "Carol C.")
    assert _login_page(site, "carol", NEW_PASSWORD).status_code == 303
    with engine.connect() as conn:
        audited = conn.execute(select(api_audit.c.key_id, api_audit.c.role).where(
            api_audit.c.method == "CREATE", api_audit.c.path == "staff_users/carol")).all()
    assert [tuple(r) for r in audited] == [("user:admin0", "admin")]


@pytest.mark.parametrize(("fields", "field"), [
    ({"username": "admin0"}, "username"),  # duplicate: the fixture's admin
    ({"username": ""}, "username"),
    ({"username": "Bad Name"}, "username"),
    ({"username": "x" * 65}, "username"),
    ({"role": "partner"}, "role"),
    ({"role": "root"}, "role"),
    ({"role": ""}, "role"),
    ({"password": "short-pass1"}, "password"),  # 11 characters
    ({"password": ""}, "password"),
    ({"password": "x" * 257}, "password"),
    ({"display_name": "d" * 101}, "display_name"),
])
def test_bad_create_shows_the_form_naming_the_field_and_writes_nothing(login_as: Login, engine: Engine,
                                                                        fields: dict[str, str], field: str) -> None:
    admin = login_as("admin")
    before = _state(engine)
    data = {"username": "dave", "display_name": "Dave", "role": "credit_officer", "password": NEW_PASSWORD, **fields}
    response = _post(admin, "/console/staff", **data)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in response.text and f"<code>{field}</code>" in response.text
    assert data["password"] not in response.text or not data["password"]  # a password is never echoed
    assert _state(engine) == before


# --------------------------------------------------------------------------- disable / enable


def test_disable_logs_the_user_out_at_once_and_enable_restores_login(login_as: Login, engine: Engine,
                                                                      site: TestClient) -> None:
    admin, officer = login_as("admin"), login_as("credit_officer")  # admin0, creditofficer1
    assert officer.get("/console/loans").status_code == 200
    done = _post(admin, "/console/staff/creditofficer1/disable")
    assert done.status_code == 303 and done.headers["location"] == "/console/staff?flash=staff_disabled"
    page = officer.get("/console/loans", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert officer.get("/console/loans", headers={"HX-Request": "true"}).status_code == 401
    assert _login_page(site, "creditofficer1", PASSWORD).status_code == 401  # login refuses a disabled user
    assert _post(admin, "/console/staff/creditofficer1/enable").status_code == 303
    assert _login_page(site, "creditofficer1", PASSWORD).status_code == 303


def test_an_admin_cannot_disable_themself(login_as: Login, engine: Engine) -> None:
    admin = login_as("admin")
    before = _state(engine)
    response = _post(admin, "/console/staff/admin0/disable")
    assert response.status_code == 422 and "<code>username</code> (admin0)" in response.text
    assert "own account" in response.text
    assert _state(engine) == before and admin.get("/console/staff").status_code == 200


@pytest.mark.parametrize(("command", "username", "status"), [
    ("disable", "ghost", 404), ("enable", "ghost", 404), ("unlock", "ghost", 404), ("password", "ghost", 404),
    ("enable", "admin0", 422),  # not disabled
    ("unlock", "admin0", 422),  # not locked
    ("disable", "u" * 200, 404),
])
def test_refused_commands_name_the_field_and_write_nothing(login_as: Login, engine: Engine, command: str,
                                                           username: str, status: int) -> None:
    admin = login_as("admin")
    before = _state(engine)
    response = _post(admin, f"/console/staff/{username}/{command}", password=NEW_PASSWORD)
    assert response.status_code == status and "<code>username</code>" in response.text
    assert _state(engine) == before


# --------------------------------------------------------------------------- password and unlock


def test_set_password_ends_sessions_and_the_old_password_fails(login_as: Login, engine: Engine,
                                                                site: TestClient) -> None:
    admin, agent = login_as("admin"), login_as("collections_agent")
    name = "collectionsagent1"
    weak = _post(admin, f"/console/staff/{name}/password", password="too short")
    assert weak.status_code == 422 and 'data-testid="error-password"' in weak.text and " open>" in weak.text
    assert agent.get("/console/loans").status_code == 200  # nothing changed
    done = _post(admin, f"/console/staff/{name}/password", password=NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/console/staff?flash=staff_password_set"
    assert agent.get("/console/loans", follow_redirects=False).status_code == 303
    assert _login_page(site, name, PASSWORD).status_code == 401
    assert _login_page(site, name, NEW_PASSWORD).status_code == 303


def test_unlock_lets_a_locked_user_log_in(login_as: Login, engine: Engine, site: TestClient) -> None:
    admin = login_as("admin")
    staff.create_user(engine, "stuck", PASSWORD, "risk_manager")
    _lock(engine, "stuck")
    assert _login_page(site, "stuck", PASSWORD).status_code == 429
    done = _post(admin, "/console/staff/stuck/unlock")
    assert done.status_code == 303 and done.headers["location"] == "/console/staff?flash=staff_unlocked"
    assert 'data-testid="staff-locked"' not in admin.get("/console/staff").text
    assert _login_page(site, "stuck", PASSWORD).status_code == 303
