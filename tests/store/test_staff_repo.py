"""StaffRepository and AuditRepository on SQLite and PostgreSQL: users, the login throttle,
sessions and their pruning, the newest audit row per key — plain records out, never rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from lendstack.store.audit_repo import AuditRepository
from lendstack.store.staff_repo import StaffRepository, Throttle

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def add(users: StaffRepository, name: str, role: str = "admin") -> bool:
    return users.add_user(name, password_hash="h", role=role, display_name=name.title(), created_at=NOW)


def test_users(engine: Engine) -> None:
    with engine.begin() as conn:
        users = StaffRepository(conn)
        assert add(users, "alice") and add(users, "bob", "auditor")
        assert users.usernames() == {"alice", "bob"}
        users.set_disabled_at("bob", NOW)
        users.set_password_hash("alice", "h2")
        alice = users.user("alice", for_update=True)
        assert alice is not None and (alice.role, alice.password_hash, alice.disabled_at) == ("admin", "h2", None)
        assert users.user("ghost") is None
        assert users.active_admins("admin") == ["alice"]
        users.save_throttle("bob", Throttle(2, NOW, None), exists=False)
        users.save_throttle("bob", Throttle(0, NOW, NOW + timedelta(minutes=15)), exists=True)
        assert users.throttle("bob") == Throttle(0, NOW, NOW + timedelta(minutes=15))
        listed = users.listing(10)
        assert [(u.username, u.disabled_at, u.locked_until) for u in listed] == \
            [("alice", None, None), ("bob", NOW, NOW + timedelta(minutes=15))]
        users.clear_throttle("bob")
        assert users.throttle("bob") is None
    with engine.begin() as conn:
        assert not add(StaffRepository(conn), "alice")  # taken: the caller ends the transaction


def test_sessions(engine: Engine) -> None:
    with engine.begin() as conn:
        users = StaffRepository(conn)
        add(users, "alice")
        for n in range(4):
            users.add_session(f"t{n}", "alice", at=NOW + timedelta(minutes=n), client="10.0.0.1")
        users.touch_session("t3", NOW + timedelta(hours=1))
        found = users.session("t3")
        assert found is not None and (found.username, found.last_seen_at) == ("alice", NOW + timedelta(hours=1))
        users.prune_sessions("alice", seen_before=NOW + timedelta(seconds=30), created_before=NOW, keep_max=2)
        assert users.session("t0") is None and users.session("t1") is None  # idle, then beyond the newest two
        assert users.session_count("alice") == 2
        assert users.delete_session("t2") == 1 and users.delete_session("t2") == 0
        assert users.end_sessions("alice") == 1 and users.session_count("alice") == 0


def test_audit_rows(engine: Engine) -> None:
    row = {"key_id": "user:alice", "role": "admin", "partner_id": "", "method": "POST", "path": "/login",
           "client": "", "idempotency_key": "", "status": 303}
    with engine.begin() as conn:
        audit = AuditRepository(conn)
        audit.add(row | {"at": NOW})
        audit.add(row | {"at": NOW + timedelta(days=1)})
        audit.add(row | {"at": NOW + timedelta(days=2), "status": 401})
        assert audit.newest_at(["user:alice", "user:bob"], path="/login", status=303) == \
            {"user:alice": NOW + timedelta(days=1)}
        assert audit.newest_at([], path="/login", status=303) == {}
