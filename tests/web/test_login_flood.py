"""The login page under a flood (issue 12 §1): attempts are throttled per client address and over
all addresses from memory, BEFORE any hashing or database work; made-up usernames do not grow the
failures table; and a login that is hashing holds no connection, no transaction and not the SQLite
request lock, so the rest of the site is served meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from argon2.exceptions import VerificationError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from lendstack.api.keys import create_key
from lendstack.api.ratelimit import ClientLimiter, ClientLimits, Rate
from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_staff import staff_login_failures
from lendstack.web import create_site
from lendstack.web.auth import SESSION_COOKIE
from tests.web.conftest import hidden

PASSWORD = "correct horse battery"
GENEROUS = ClientLimits(per_client=Rate(1000.0, 1000), overall=Rate(1000.0, 1000))


class CountingHasher:
    """The tests' fast argon2, counting verifications: the proof that a refused attempt hashed nothing."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.verifications = inner, 0

    def hash(self, password: str) -> str:
        return str(self.inner.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return bool(self.inner.verify(password_hash, password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.inner.check_needs_rehash(password_hash))


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(staff._hasher)  # the conftest's fast one
    monkeypatch.setattr(staff, "_hasher", counting)
    return counting


def make_site(engine: Engine, registry_dir: Path, limits: ClientLimits) -> FastAPI:
    app: FastAPI = create_site(engine, registry_dir=registry_dir, secure_cookies=False)
    app.state.login_limiter = ClientLimiter(limits)
    return app


def attempt(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": hidden(page.text, "csrf_token")}, follow_redirects=False)


def login_audit(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(api_audit.c.status).where(api_audit.c.path == "/login")
                                 .order_by(api_audit.c.id)).scalars())


def test_one_client_is_answered_429_before_any_hashing(engine: Engine, registry_dir: Path,
                                                       hasher: CountingHasher) -> None:
    burst = 3
    app = make_site(engine, registry_dir, ClientLimits(per_client=Rate(0.001, burst), overall=Rate(1000.0, 1000)))
    client = TestClient(app)
    answers = [attempt(client, f"nobody{i}", "wrong password!") for i in range(10)]
    assert [a.status_code for a in answers] == [401] * burst + [429] * 7
    assert hasher.verifications == burst  # the 7 refused attempts hashed nothing
    throttled = answers[-1]
    assert int(throttled.headers["retry-after"]) >= 1 and 'data-testid="login-error"' in throttled.text
    assert "Too many failed sign-ins" in throttled.text  # login.error_throttled
    # Each attempt that was let in is audited; of the refused run only its first (rows at the rate allowed).
    assert login_audit(engine) == [401] * burst + [429]
    # Another address has its own bucket.
    other = TestClient(app, client=("203.0.113.9", 40000))
    assert attempt(other, "nobody", "wrong password!").status_code == 401
    assert hasher.verifications == burst + 1


def test_all_addresses_together_are_bounded_too(engine: Engine, registry_dir: Path, hasher: CountingHasher) -> None:
    app = make_site(engine, registry_dir, ClientLimits(per_client=Rate(1000.0, 1000), overall=Rate(0.001, 4)))
    statuses = [attempt(TestClient(app, client=(f"198.51.100.{i}", 40000)), f"ghost{i}", "wrong password!").status_code
                for i in range(1, 11)]
    assert statuses == [401] * 4 + [429] * 6
    assert hasher.verifications == 4


def test_the_zh_cn_throttled_page(engine: Engine, registry_dir: Path, hasher: CountingHasher) -> None:
    app = make_site(engine, registry_dir, ClientLimits(per_client=Rate(0.001, 1), overall=Rate(1000.0, 1000)))
    client = TestClient(app, cookies={"ls_lang": "zh-CN"})
    attempt(client, "nobody", "wrong password!")
    throttled = attempt(client, "nobody", "wrong password!")
    assert throttled.status_code == 429 and "登录失败次数过多" in throttled.text


def test_unknown_usernames_do_not_grow_the_failures_table(engine: Engine, registry_dir: Path,
                                                         hasher: CountingHasher) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    client = TestClient(make_site(engine, registry_dir, GENEROUS))
    for i in range(60):
        assert attempt(client, f"made-up-{i}", "wrong password!").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(staff_login_failures)).scalar_one() == 0
    # An unknown name is still locked out like a real one (the answers do not tell which names exist) ...
    for _ in range(staff.LOGIN_FAILURES_MAX - 1):
        assert attempt(client, "made-up-0", "wrong password!").status_code == 401
    assert attempt(client, "made-up-0", "wrong password!").status_code == 429
    # ... and the lock-out of a real user keeps working, on its row.
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert attempt(client, "alice", "wrong password!").status_code == 401
    assert attempt(client, "alice", PASSWORD).status_code == 429
    with engine.connect() as conn:
        assert list(conn.execute(select(staff_login_failures.c.username)).scalars()) == ["alice"]


def test_unknown_name_failures_are_bounded_in_memory() -> None:
    failures = staff._UnknownNameFailures(names_max=5)
    now = staff.utcnow()
    for i in range(50):
        failures.record("book", f"name{i}", now)
        assert len(failures) <= 5
    assert failures.locked_until("book", "name0") is None  # forgotten: the least recently failed went first
    for _ in range(staff.LOGIN_FAILURES_MAX):
        failures.record("book", "fresh", now)
    assert failures.locked_until("book", "fresh") == now + staff.LOGIN_LOCKOUT
    assert failures.locked_until("another book", "fresh") is None
    assert len(staff._unknown_names) <= staff.UNKNOWN_NAMES_MAX


class BlockingHasher:
    """Verification that waits until the test lets it go: the login is 'hashing' for as long as we like."""

    def __init__(self) -> None:
        self.hashing, self.release = threading.Event(), threading.Event()

    def hash(self, password: str) -> str:
        return "$argon2id$v=19$m=8,t=1,p=1$ZmFrZXNhbHQ$ZmFrZWhhc2g"

    def verify(self, password_hash: str, password: str) -> bool:
        self.hashing.set()
        assert self.release.wait(60), "the test never released the hasher"
        raise VerificationError("wrong password")

    def check_needs_rehash(self, password_hash: str) -> bool:
        return False


def test_a_login_hashing_holds_no_lock_and_the_site_is_served(engine: Engine, registry_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_site(engine, registry_dir, GENEROUS)
    staff.create_user(engine, "alice", PASSWORD, "auditor")
    user = staff.get_user(engine, "alice")
    assert user is not None
    console = TestClient(app)
    console.cookies.set(SESSION_COOKIE, staff.start_session(engine, user))
    api_key = create_key(engine, "admin").token
    blocking = BlockingHasher()
    monkeypatch.setattr(staff, "_hasher", blocking)
    monkeypatch.setattr(staff, "_dummy_hash", lambda: blocking.hash(""))
    attacker = TestClient(app, client=("192.0.2.1", 40000))
    page = attacker.get("/login")
    answers: dict[str, int] = {}

    def post_login() -> None:
        answers["login"] = attacker.post("/login", data={"username": "nobody", "password": "wrong password!",
                                                         "csrf_token": hidden(page.text, "csrf_token")},
                                         follow_redirects=False).status_code

    def others() -> None:
        answers["api"] = TestClient(app).get("/v1/loans", headers={"Authorization": f"Bearer {api_key}"}).status_code
        answers["console"] = console.get("/console/loans").status_code

    login_thread = threading.Thread(target=post_login)
    login_thread.start()
    try:
        assert blocking.hashing.wait(60), "the login never reached the hashing"
        # While it hashes: no connection checked out, and (SQLite) the request lock is free ...
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        lock = app.state.db_lock
        assert lock is None or not lock.locked()
        # ... so other requests are served before it ends (before the fix they queued behind it).
        other_thread = threading.Thread(target=others)
        other_thread.start()
        other_thread.join(60)
        assert not other_thread.is_alive(), "the site was blocked while a login was hashing"
        assert "login" not in answers  # ordering: the login is still hashing
        assert answers["api"] == 200 and answers["console"] == 200
    finally:
        blocking.release.set()
        login_thread.join(60)
    assert answers["login"] == 401
