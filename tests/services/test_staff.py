"""Staff users and sessions: validation naming the field (nothing written), argon2 login, the
per-username throttle, idle and absolute session expiry, logout, demo users (idempotent)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_staff import staff_sessions, staff_users

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(staff, "utcnow", fake)
    return fake


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize(("username", "password", "role", "field"), [
    ("ab", PASSWORD, "admin", "username"),
    ("Admin", PASSWORD, "admin", "username"),
    ("1admin", PASSWORD, "admin", "username"),
    ("a" * 33, PASSWORD, "admin", "username"),
    ("alice", "short-pass1", "admin", "password"),  # 11 characters: one under the minimum
    ("alice", "x" * 257, "admin", "password"),
    ("alice", PASSWORD, "partner", "role"),  # partners use API keys, never the console
    ("alice", PASSWORD, "root", "role"),
])
def test_create_user_refuses_bad_input_naming_the_field(engine: Engine, username: str, password: str, role: str,
                                                        field: str) -> None:
    with pytest.raises(staff.StaffError) as caught:
        staff.create_user(engine, username, password, role)
    assert caught.value.field == field
    assert _count(engine, staff_users) == 0 and _count(engine, api_audit) == 0


# 256 characters of varied text (the password rule refuses a repeated character or unit).
LONGEST_PASSWORD = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(4))


def test_create_user_boundaries_and_duplicate(engine: Engine) -> None:
    made = staff.create_user(engine, "abc", "Kx9-travel#2", "auditor", display_name="A. Auditor")  # both minimums
    assert made.username == "abc" and made.role == "auditor"
    staff.create_user(engine, "a" * 32, LONGEST_PASSWORD, "admin")  # both maximums
    with pytest.raises(staff.StaffError) as caught:
        staff.create_user(engine, "abc", PASSWORD, "admin")
    assert caught.value.field == "username"
    assert _count(engine, staff_users) == 2
    with engine.connect() as conn:
        stored = conn.execute(select(staff_users.c.password_hash).where(staff_users.c.username == "abc")).scalar_one()
        audited = conn.execute(select(api_audit.c.key_id, api_audit.c.path)).all()
    assert stored.startswith("$argon2id$") and "Kx9-travel#2" not in stored
    assert ("cli", "staff_users/abc") in [tuple(r) for r in audited]
    assert [u.username for u in staff.staff_listing(engine)] == ["a" * 32, "abc"]


def test_authenticate_right_and_wrong_password(engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "credit_officer")
    user = staff.authenticate(engine, "alice", PASSWORD)
    assert user == staff.StaffUser("alice", "credit_officer", "alice")
    assert staff.authenticate(engine, "alice", PASSWORD + "!") is None
    assert staff.authenticate(engine, "nobody", PASSWORD) is None


def test_login_is_throttled_per_username_then_released(engine: Engine, clock: Clock) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    staff.create_user(engine, "bob", PASSWORD, "admin")
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert staff.login(engine, "alice", "wrong password!") is None
    with pytest.raises(staff.LoginThrottled):
        staff.login(engine, "alice", PASSWORD)  # even the right password, while locked
    assert staff.login(engine, "bob", PASSWORD) is not None  # other usernames are not affected
    clock.now += staff.LOGIN_LOCKOUT + timedelta(seconds=1)
    assert staff.login(engine, "alice", PASSWORD) is not None
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(api_audit.c.status).where(
            api_audit.c.key_id == "user:alice").order_by(api_audit.c.id))]
    assert statuses == [401] * staff.LOGIN_FAILURES_MAX + [429, 303]


def test_failures_spread_beyond_the_window_do_not_lock(engine: Engine, clock: Clock) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    for _ in range(3 * staff.LOGIN_FAILURES_MAX):
        assert staff.authenticate(engine, "alice", "wrong password!") is None
        clock.now += staff.LOGIN_WINDOW / (staff.LOGIN_FAILURES_MAX - 1) + timedelta(seconds=1)
    assert staff.authenticate(engine, "alice", PASSWORD) is not None


def test_unknown_usernames_are_throttled_too(engine: Engine, clock: Clock) -> None:
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert staff.authenticate(engine, "ghost", "wrong password!") is None
    with pytest.raises(staff.LoginThrottled):
        staff.authenticate(engine, "ghost", "wrong password!")


def test_session_idle_expiry(engine: Engine, clock: Clock) -> None:
    user = staff.StaffUser(**{k: v for k, v in staff.create_user(engine, "alice", PASSWORD, "admin").to_json().items()
                              if k in ("username", "role", "display_name")})
    token = staff.start_session(engine, user)
    with engine.connect() as conn:
        assert conn.execute(select(staff_sessions.c.token_hash)).scalar_one() == staff.hash_token(token)
    clock.now += staff.SESSION_IDLE - timedelta(seconds=1)
    assert staff.resolve_session(engine, token) is not None  # touching it restarts the idle clock
    clock.now += staff.SESSION_IDLE - timedelta(seconds=1)
    assert staff.resolve_session(engine, token) is not None
    clock.now += staff.SESSION_IDLE + timedelta(seconds=1)
    assert staff.resolve_session(engine, token) is None
    assert _count(engine, staff_sessions) == 0


def test_session_absolute_expiry(engine: Engine, clock: Clock) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    found = staff.login(engine, "alice", PASSWORD)
    assert found is not None
    token = found[1]
    steps = 0
    while clock.now + staff.SESSION_IDLE / 2 < datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + staff.SESSION_ABSOLUTE:
        clock.now += staff.SESSION_IDLE / 2
        assert staff.resolve_session(engine, token) is not None
        steps += 1
        assert steps < 100
    clock.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + staff.SESSION_ABSOLUTE + timedelta(seconds=1)
    assert staff.resolve_session(engine, token) is None


def test_logout_and_unknown_tokens(engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    found = staff.login(engine, "alice", PASSWORD)
    assert found is not None
    _user, token = found
    assert staff.resolve_session(engine, token) is not None
    assert staff.end_session(engine, token) is True
    assert staff.resolve_session(engine, token) is None
    assert staff.end_session(engine, token) is False
    assert staff.resolve_session(engine, "") is None and staff.resolve_session(engine, "x" * 500) is None
    assert staff.csrf_token_for(token) != staff.csrf_token_for(token + "x")


def test_sessions_per_user_are_capped(engine: Engine) -> None:
    staff.create_user(engine, "alice", PASSWORD, "admin")
    user = staff.get_user(engine, "alice")
    assert user is not None
    tokens = [staff.start_session(engine, user) for _ in range(staff.SESSIONS_PER_USER_MAX + 3)]
    assert _count(engine, staff_sessions) == staff.SESSIONS_PER_USER_MAX
    assert staff.resolve_session(engine, tokens[-1]) is not None


def test_ensure_demo_staff_is_idempotent(engine: Engine) -> None:
    first = staff.ensure_demo_staff(engine)
    assert sorted(role for _u, _p, role in first) == sorted(staff.STAFF_ROLES)
    before = _count(engine, staff_users)
    assert staff.ensure_demo_staff(engine) == first
    assert _count(engine, staff_users) == before == len(staff.STAFF_ROLES)
    for username, password, role in first:
        user = staff.authenticate(engine, username, password)
        assert user is not None and user.role == role


@given(st.text(max_size=40))
def test_username_rule_is_exactly_the_pattern(name: str) -> None:
    ok = staff.USERNAME_PATTERN.fullmatch(name) is not None
    try:
        staff._check_new_user(name, PASSWORD, "admin", "")
    except staff.StaffError as exc:
        assert not ok and exc.field == "username"
    else:
        assert ok and 3 <= len(name) <= 32 and name[0].isalpha() and name == name.lower()
