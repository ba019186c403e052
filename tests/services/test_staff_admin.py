"""Administering staff users: disable (ends sessions; never oneself, never the last active admin),
enable, set a password (the create rule; ends sessions), unlock the login throttle, and the list's
status columns. Every refused command names the field and writes nothing (not even an audit row)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_staff import staff_login_failures, staff_sessions, staff_users

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a different horse 42"


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


def _user(engine: Engine, username: str, role: str = staff.CREDIT) -> staff.StaffUser:
    staff.create_user(engine, username, PASSWORD, role)
    found = staff.get_user(engine, username)
    assert found is not None
    return found


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a staff command may change, the audit trail included."""
    with engine.connect() as conn:
        return {
            "users": sorted(tuple(r) for r in conn.execute(select(staff_users)).all()),
            "sessions": sorted(tuple(r) for r in conn.execute(select(staff_sessions)).all()),
            "failures": sorted(tuple(r) for r in conn.execute(select(staff_login_failures)).all()),
            "audit": int(conn.execute(select(func.count()).select_from(api_audit)).scalar_one()),
        }


def _audited(engine: Engine, method: str) -> list[tuple[str, str, str]]:
    a = api_audit.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(a.key_id, a.role, a.path).where(a.method == method)).all()]


def _lock(engine: Engine, username: str) -> None:
    for _ in range(staff.LOGIN_FAILURES_MAX):
        assert staff.authenticate(engine, username, "wrong password!") is None


# --------------------------------------------------------------------------- disable / enable


def test_disable_ends_sessions_refuses_login_and_is_audited(engine: Engine) -> None:
    boss, alice = _user(engine, "boss", staff.ADMIN), _user(engine, "alice")
    tokens = [staff.start_session(engine, alice) for _ in range(3)]
    kept = staff.start_session(engine, boss)
    result = staff.disable_user(engine, "alice", by=boss, client="10.0.0.1").to_json()
    assert result["sessions_ended"] == 3 and result["disabled_at"]
    assert all(staff.resolve_session(engine, t) is None for t in tokens)
    assert staff.resolve_session(engine, kept) is not None  # only alice's sessions end
    assert staff.get_user(engine, "alice") is None
    assert staff.authenticate(engine, "alice", PASSWORD) is None  # the right password, but disabled
    assert staff.login(engine, "alice", PASSWORD) is None
    assert _audited(engine, "DISABLE") == [("user:boss", "admin", "staff_users/alice")]
    listed = {u["username"]: u for u in [u.to_json() for u in staff.staff_listing(engine)]}
    assert listed["alice"]["disabled"] and listed["alice"]["disabled_at"] == result["disabled_at"]


def test_enable_lets_the_user_log_in_again(engine: Engine) -> None:
    _user(engine, "alice")
    staff.disable_user(engine, "alice")
    assert staff.enable_user(engine, "alice").to_json() == {"username": "alice", "disabled_at": None}
    assert staff.authenticate(engine, "alice", PASSWORD) is not None
    assert _audited(engine, "ENABLE") == [("cli", "admin", "staff_users/alice")]


@pytest.mark.parametrize("case", ["self", "unknown", "already_disabled", "last_admin", "enable_active",
                                  "enable_unknown"])
def test_refused_disable_and_enable_name_the_field_and_write_nothing(engine: Engine, case: str) -> None:
    boss, _alice = _user(engine, "boss", staff.ADMIN), _user(engine, "alice")
    staff.start_session(engine, boss)
    staff.disable_user(engine, "alice")
    before = _snapshot(engine)
    calls = {
        "self": lambda: staff.disable_user(engine, "boss", by=boss),
        "unknown": lambda: staff.disable_user(engine, "ghost", by=boss),
        "already_disabled": lambda: staff.disable_user(engine, "alice", by=boss),
        "last_admin": lambda: staff.disable_user(engine, "boss"),  # from the CLI: no actor to compare
        "enable_active": lambda: staff.enable_user(engine, "boss"),
        "enable_unknown": lambda: staff.enable_user(engine, "ghost"),
    }
    with pytest.raises(staff.StaffError) as caught:
        calls[case]()
    assert caught.value.field == "username"
    assert ("boss" in caught.value.message or "own" in caught.value.message or "ghost" in caught.value.message
            or "alice" in caught.value.message)
    assert isinstance(caught.value, staff.StaffNotFound) == case.endswith("unknown")
    assert _snapshot(engine) == before


def test_an_admin_may_be_disabled_while_another_admin_stays_active(engine: Engine) -> None:
    _user(engine, "boss", staff.ADMIN)
    deputy = _user(engine, "deputy", staff.ADMIN)
    _user(engine, "retired", staff.ADMIN)
    staff.disable_user(engine, "retired")  # a disabled admin does not count as active
    staff.disable_user(engine, "boss", by=deputy)
    with pytest.raises(staff.StaffError, match="last active admin"):
        staff.disable_user(engine, "deputy")
    staff.enable_user(engine, "boss", by=deputy)
    staff.disable_user(engine, "deputy")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["disable", "enable"]), st.sampled_from(["ann", "ben", "cat", "dan"])),
                    max_size=12))
def test_property_there_is_always_an_active_admin(engine: Engine, ops: list[tuple[str, str]]) -> None:
    """Whatever the order of commands (the database carries over between examples: the property is
    global), one admin stays active, and a refused command changes nothing."""
    existing = {u["username"] for u in [u.to_json() for u in staff.staff_listing(engine)]}
    for name, role in (("ann", staff.ADMIN), ("ben", staff.ADMIN), ("cat", staff.RISK), ("dan", staff.AUDITOR)):
        if name not in existing:
            staff.create_user(engine, name, PASSWORD, role)
    for command, name in ops:
        before = _snapshot(engine)
        try:
            (staff.disable_user if command == "disable" else staff.enable_user)(engine, name)
        except staff.StaffError as refused:
            assert refused.field == "username"
            assert _snapshot(engine) == before
        users = [u.to_json() for u in staff.staff_listing(engine)]
        assert sum(1 for u in users if u["role"] == staff.ADMIN and not u["disabled"]) >= 1


# --------------------------------------------------------------------------- passwords


def test_set_password_replaces_the_old_one_and_ends_sessions(engine: Engine) -> None:
    boss, alice = _user(engine, "boss", staff.ADMIN), _user(engine, "alice")
    token = staff.start_session(engine, alice)
    assert staff.set_password(engine, "alice", NEW_PASSWORD, by=boss).sessions_ended == 1
    assert staff.resolve_session(engine, token) is None
    assert staff.authenticate(engine, "alice", PASSWORD) is None
    assert staff.authenticate(engine, "alice", NEW_PASSWORD) == alice
    assert _audited(engine, "PASSWORD") == [("user:boss", "admin", "staff_users/alice")]
    with engine.connect() as conn:
        stored = conn.execute(select(staff_users.c.password_hash).where(staff_users.c.username == "alice")).scalar_one()
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored


@pytest.mark.parametrize(("username", "password", "field"), [
    ("alice", "x" * (staff.PASSWORD_LENGTH_MIN - 1), "password"),
    ("alice", "", "password"),
    ("alice", "x" * (staff.PASSWORD_LENGTH_MAX + 1), "password"),
    ("ghost", NEW_PASSWORD, "username"),
])
def test_set_password_refusals_name_the_field_and_write_nothing(engine: Engine, username: str, password: str,
                                                                 field: str) -> None:
    alice = _user(engine, "alice")
    staff.start_session(engine, alice)
    before = _snapshot(engine)
    with pytest.raises(staff.StaffError) as caught:
        staff.set_password(engine, username, password)
    assert caught.value.field == field
    assert _snapshot(engine) == before


def test_set_password_boundaries_are_the_create_rule(engine: Engine) -> None:
    _user(engine, "alice")
    longest = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(4))  # varied: the rule refuses repeats
    for password in ("Kx9-travel#2", longest):
        assert len(password) in (staff.PASSWORD_LENGTH_MIN, staff.PASSWORD_LENGTH_MAX)
        staff.set_password(engine, "alice", password)
        assert staff.authenticate(engine, "alice", password) is not None


# --------------------------------------------------------------------------- unlocking


def test_unlock_lifts_the_lock_at_once(engine: Engine, clock: Clock) -> None:
    boss = _user(engine, "boss", staff.ADMIN)
    _user(engine, "alice")
    _lock(engine, "alice")
    with pytest.raises(staff.LoginThrottled):
        staff.authenticate(engine, "alice", PASSWORD)
    listed = {u["username"]: u for u in [u.to_json() for u in staff.staff_listing(engine)]}
    assert listed["alice"]["locked_until"] == (clock.now + staff.LOGIN_LOCKOUT).isoformat()
    assert listed["boss"]["locked_until"] is None
    staff.unlock_user(engine, "alice", by=boss)
    assert staff.authenticate(engine, "alice", PASSWORD) is not None
    assert {u.username: u for u in staff.staff_listing(engine)}["alice"].locked_until is None
    assert _audited(engine, "UNLOCK") == [("user:boss", "admin", "staff_users/alice")]


@pytest.mark.parametrize("case", ["never_failed", "some_failures", "lock_expired", "unknown"])
def test_unlock_refusals_name_the_field_and_write_nothing(engine: Engine, clock: Clock, case: str) -> None:
    _user(engine, "alice")
    if case == "some_failures":
        assert staff.authenticate(engine, "alice", "wrong password!") is None
    if case == "lock_expired":
        _lock(engine, "alice")
        clock.now += staff.LOGIN_LOCKOUT + timedelta(seconds=1)
    before = _snapshot(engine)
    with pytest.raises(staff.StaffError) as caught:
        staff.unlock_user(engine, "ghost" if case == "unknown" else "alice")
    assert caught.value.field == "username"
    assert _snapshot(engine) == before


# --------------------------------------------------------------------------- the list


def test_list_shows_the_last_login_from_the_audit_trail(engine: Engine, clock: Clock) -> None:
    alice = _user(engine, "alice")
    _user(engine, "bob")
    staff.start_session(engine, alice)
    clock.now += timedelta(hours=2)
    assert staff.login(engine, "alice", PASSWORD) is not None
    assert staff.login(engine, "alice", "wrong password!") is None  # a failure is not a login
    listed = {u["username"]: u for u in [u.to_json() for u in staff.staff_listing(engine)]}
    assert listed["alice"]["last_login_at"] == clock.now.isoformat()
    assert listed["bob"]["last_login_at"] is None and listed["bob"]["disabled_at"] is None
    assert staff.staff_listing(engine, limit=1)[0].username == "alice"


def test_create_user_audits_the_acting_admin(engine: Engine) -> None:
    boss = _user(engine, "boss", staff.ADMIN)
    staff.create_user(engine, "carol", PASSWORD, staff.AUDITOR, actor=boss.actor, actor_role=boss.role)
    assert ("user:boss", "admin", "staff_users/carol") in _audited(engine, "CREATE")
