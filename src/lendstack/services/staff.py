"""Staff users and console sessions: argon2id passwords, a per-username login throttle, and sessions
whose 256-bit token lives only in the browser's cookie (the database keeps its sha256).

Staff roles are defined here (the service layer cannot import lendstack.api); the API's permission
matrix imports them, so there is one list. A partner is not staff: partners use API keys only."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lendstack.store.tables_api import api_audit
from lendstack.store.tables_staff import staff_login_failures, staff_sessions, staff_users

ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR = "admin", "risk_manager", "credit_officer", "collections_agent", "auditor"
OPERATIONS = "operations"  # back office (运营/账务): reverses bounced payments, books recoveries and refunds
STAFF_ROLES = (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS)

USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{2,31}")
PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 256  # argon2 takes any length; a cap keeps one login from costing a lot of hashing
DISPLAY_NAME_LENGTH_MAX = 100
USERS_LIST_MAX = 1000

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_TOKEN_BYTES = 32  # 256 bits
SESSIONS_PER_USER_MAX = 20  # the oldest are dropped beyond this: a stolen password cannot pile up sessions

LOGIN_FAILURES_MAX = 5  # within LOGIN_WINDOW, then the username is locked for LOGIN_LOCKOUT
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LOCKOUT = timedelta(minutes=15)

# Fixed, well-known demo logins (README and `make demo` print them): for a demo book only.
DEMO_STAFF = (
    ("admin", ADMIN, "admin-demo-pass"),
    ("risk", RISK, "risk-demo-pass"),
    ("officer", CREDIT, "officer-demo-pass"),
    ("collector", COLLECTIONS, "collector-demo-pass"),
    ("auditor", AUDITOR, "auditor-demo-pass"),
    ("ops", OPERATIONS, "ops-demo-pass"),
)

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a miss costs the same time as a wrong password."""
    return _hasher.hash("not-a-password-" + secrets.token_hex(8))


class StaffError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class LoginThrottled(StaffError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("username", f"too many failed logins; try again in {retry_after_s // 60 + 1} minutes")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    role: str
    display_name: str

    @property
    def actor(self) -> str:
        """How the audit trail names this person (api_audit.key_id)."""
        return f"user:{self.username}"


@dataclass(frozen=True, slots=True)
class StaffSession:
    user: StaffUser
    token_hash: str
    created_at: datetime
    last_seen_at: datetime


def utcnow() -> datetime:
    """The clock (tests patch this module attribute to move time)."""
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str) -> str:
    """The session's CSRF token, derived from the cookie token (never stored): HMAC, so it reveals
    nothing about the session token, and a database reader (who sees only sha256(token)) cannot forge it."""
    return hmac.new(token.encode(), b"lendstack-console-csrf", hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- users


def _check_password(password: str) -> None:
    """The one password rule (creation and reset alike)."""
    if len(password) < PASSWORD_LENGTH_MIN:
        raise StaffError("password", f"must be at least {PASSWORD_LENGTH_MIN} characters")
    if len(password) > PASSWORD_LENGTH_MAX:
        raise StaffError("password", f"must be at most {PASSWORD_LENGTH_MAX} characters")


def _check_new_user(username: str, password: str, role: str, display_name: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise StaffError("username", "3-32 characters: a lowercase letter, then lowercase letters, digits, . _ -")
    _check_password(password)
    if role not in STAFF_ROLES:
        raise StaffError("role", f"must be one of {', '.join(STAFF_ROLES)}, got {role!r}")
    if len(display_name) > DISPLAY_NAME_LENGTH_MAX:
        raise StaffError("display_name", f"must be at most {DISPLAY_NAME_LENGTH_MAX} characters")


def record_action(conn: Connection, *, actor: str, role: str, method: str, path: str, status: int,
                  client: str = "", idempotency_key: str = "") -> None:
    """One audit row (who, what, when, from where) on `conn`, i.e. in the caller's transaction."""
    assert method and path, "an audit row names what was done"
    conn.execute(insert(api_audit).values(
        at=utcnow(), key_id=actor, role=role, partner_id="", method=method, path=path[:500], status=status,
        client=client[:200], idempotency_key=idempotency_key[:200]))


def create_user(engine: Engine, username: str, password: str, role: str, *, display_name: str = "",
                actor: str = "cli", actor_role: str = "", client: str = "") -> dict[str, Any]:
    """Create a staff user; the creation is audited in the same transaction. Errors name the field."""
    _check_new_user(username, password, role, display_name)
    password_hash = _hasher.hash(password)  # before the transaction: hashing is slow on purpose
    now = utcnow()
    try:
        with engine.begin() as conn:
            if conn.execute(select(staff_users.c.username).where(staff_users.c.username == username)).first():
                raise StaffError("username", f"{username!r} already exists")
            conn.execute(insert(staff_users).values(username=username, password_hash=password_hash, role=role,
                                                    display_name=display_name or username, created_at=now))
            record_action(conn, actor=actor, role=actor_role or (ADMIN if actor == "cli" else ""), method="CREATE",
                          path=f"staff_users/{username}", status=201, client=client)
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise StaffError("username", f"{username!r} already exists") from exc
    return {"username": username, "role": role, "display_name": display_name or username,
            "created_at": now.isoformat()}


def get_user(engine: Engine, username: str) -> StaffUser | None:
    c = staff_users.c
    with engine.connect() as conn:
        row = conn.execute(select(c.username, c.role, c.display_name, c.disabled_at)
                           .where(c.username == username)).first()
    if row is None or row.disabled_at is not None:
        return None
    return StaffUser(row.username, row.role, row.display_name)


def list_users(engine: Engine, limit: int = USERS_LIST_MAX) -> list[dict[str, Any]]:
    """Every staff user (by username) with status: disabled_at, locked_until (only while the login
    throttle holds) and last_login_at (the newest successful login in the audit trail), ISO text or None."""
    assert 0 < limit <= USERS_LIST_MAX
    c, f = staff_users.c, staff_login_failures.c
    query = (select(c.username, c.role, c.display_name, c.created_at, c.disabled_at, f.locked_until)
             .join_from(staff_users, staff_login_failures, f.username == c.username, isouter=True)
             .order_by(c.username).limit(limit))
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        last_logins = _last_logins(conn, [r.username for r in rows])
    return [{"username": r.username, "role": r.role, "display_name": r.display_name,
             "created_at": r.created_at.isoformat(), "disabled": r.disabled_at is not None,
             "disabled_at": _iso(r.disabled_at),
             "locked_until": _iso(r.locked_until) if r.locked_until is not None and r.locked_until > now else None,
             "last_login_at": _iso(last_logins.get(r.username))} for r in rows]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _last_logins(conn: Connection, usernames: list[str]) -> dict[str, datetime]:
    """{username: time of the newest successful login}: start_session audits each one (POST /login, 303)."""
    assert len(usernames) <= USERS_LIST_MAX
    if not usernames:
        return {}
    a = api_audit.c
    query = (select(a.key_id, func.max(a.at)).where(a.key_id.in_([f"user:{u}" for u in usernames]),
                                                     a.path == LOGIN_PATH, a.status == 303).group_by(a.key_id))
    return {key_id.removeprefix("user:"): at for key_id, at in conn.execute(query).all()}


# --------------------------------------------------------------------------- administering users
# Each command is one transaction that changes the user and writes its audit row (method = the
# command, path = staff_users/<name>); `by` is the admin acting (None: the CLI). Errors name the field.


class StaffNotFound(StaffError):
    def __init__(self, username: str) -> None:
        super().__init__("username", f"no staff user {username!r}")


def _actor(by: StaffUser | None) -> tuple[str, str]:
    return (by.actor, by.role) if by is not None else ("cli", ADMIN)


def _user_row(conn: Connection, username: str, *, for_update: bool = False) -> Any:
    c = staff_users.c
    query = select(c.username, c.role, c.disabled_at).where(c.username == username)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise StaffNotFound(username)
    return row


def _end_sessions(conn: Connection, username: str) -> int:
    """Delete every session of `username`: the next request with any of their cookies goes to /login."""
    return int(conn.execute(delete(staff_sessions).where(staff_sessions.c.username == username)).rowcount or 0)


def disable_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> dict[str, Any]:
    """Set disabled_at and end the user's sessions at once. An admin cannot disable themself, and the
    last active admin cannot be disabled (the console would have nobody left to manage staff)."""
    if by is not None and by.username == username:
        raise StaffError("username", "you cannot disable your own account")
    actor, actor_role = _actor(by)
    now = utcnow()
    c = staff_users.c
    with engine.begin() as conn:
        row = _user_row(conn, username, for_update=True)
        if row.disabled_at is not None:
            raise StaffError("username", f"{username!r} is already disabled")
        if row.role == ADMIN:
            # Locks the active admins' rows (PostgreSQL) so two admins cannot disable each other at once.
            admins = conn.execute(select(c.username).where(c.role == ADMIN, c.disabled_at.is_(None))
                                  .with_for_update()).scalars().all()
            if set(admins) <= {username}:
                raise StaffError("username", f"{username!r} is the last active admin")
        conn.execute(update(staff_users).where(c.username == username).values(disabled_at=now))
        ended = _end_sessions(conn, username)
        record_action(conn, actor=actor, role=actor_role, method="DISABLE", path=f"staff_users/{username}",
                      status=200, client=client)
    return {"username": username, "disabled_at": now.isoformat(), "sessions_ended": ended}


def enable_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> dict[str, Any]:
    actor, actor_role = _actor(by)
    c = staff_users.c
    with engine.begin() as conn:
        row = _user_row(conn, username, for_update=True)
        if row.disabled_at is None:
            raise StaffError("username", f"{username!r} is not disabled")
        conn.execute(update(staff_users).where(c.username == username).values(disabled_at=None))
        record_action(conn, actor=actor, role=actor_role, method="ENABLE", path=f"staff_users/{username}",
                      status=200, client=client)
    return {"username": username, "disabled_at": None}


def set_password(engine: Engine, username: str, password: str, *, by: StaffUser | None = None,
                 client: str = "") -> dict[str, Any]:
    """A new password (the create_user rule) and every session of the user ended, theirs included."""
    _check_password(password)
    actor, actor_role = _actor(by)
    password_hash = _hasher.hash(password)  # before the transaction: hashing is slow on purpose
    with engine.begin() as conn:
        _user_row(conn, username, for_update=True)
        conn.execute(update(staff_users).where(staff_users.c.username == username)
                     .values(password_hash=password_hash))
        ended = _end_sessions(conn, username)
        record_action(conn, actor=actor, role=actor_role, method="PASSWORD", path=f"staff_users/{username}",
                      status=200, client=client)
    return {"username": username, "sessions_ended": ended}


def unlock_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> dict[str, Any]:
    """Clear the login throttle of a locked user (the failure count too), so they may log in now."""
    actor, actor_role = _actor(by)
    f = staff_login_failures.c
    with engine.begin() as conn:
        _user_row(conn, username)
        locked_until = conn.execute(select(f.locked_until).where(f.username == username)).scalar_one_or_none()
        if locked_until is None or locked_until <= utcnow():
            raise StaffError("username", f"{username!r} is not locked")
        conn.execute(delete(staff_login_failures).where(f.username == username))
        record_action(conn, actor=actor, role=actor_role, method="UNLOCK", path=f"staff_users/{username}",
                      status=200, client=client)
    return {"username": username, "locked_until": None}


def ensure_demo_staff(engine: Engine) -> list[tuple[str, str, str]]:
    """One demo user per staff role with a fixed, well-known password: [(username, password, role)].
    Idempotent: users that already exist are left alone (a second call creates nothing)."""
    with engine.connect() as conn:
        existing = set(conn.execute(select(staff_users.c.username)).scalars())
    for username, role, password in DEMO_STAFF:
        if username not in existing:
            create_user(engine, username, password, role, display_name=f"Demo {role.replace('_', ' ')}")
    return [(username, password, role) for username, role, password in DEMO_STAFF]


# --------------------------------------------------------------------------- logging in


def _throttle_row(conn: Connection, username: str) -> Any:
    c = staff_login_failures.c
    return conn.execute(select(c.failures, c.window_started_at, c.locked_until).where(c.username == username)).first()


def _check_throttle(engine: Engine, username: str, now: datetime) -> None:
    with engine.connect() as conn:
        row = _throttle_row(conn, username)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise LoginThrottled(int((row.locked_until - now).total_seconds()))


def _record_failure(engine: Engine, username: str, now: datetime) -> None:
    c = staff_login_failures.c
    with engine.begin() as conn:
        row = _throttle_row(conn, username)
        if row is None:
            conn.execute(insert(staff_login_failures).values(username=username, failures=1, window_started_at=now,
                                                             locked_until=None))
            return
        fresh = now - row.window_started_at > LOGIN_WINDOW
        failures = 1 if fresh else row.failures + 1
        locked_until = now + LOGIN_LOCKOUT if failures >= LOGIN_FAILURES_MAX else None
        conn.execute(update(staff_login_failures).where(c.username == username).values(
            failures=0 if locked_until else failures, window_started_at=now if fresh or locked_until else
            row.window_started_at, locked_until=locked_until))


def authenticate(engine: Engine, username: str, password: str) -> StaffUser | None:
    """The user if the password is right; None otherwise. Raises LoginThrottled after
    LOGIN_FAILURES_MAX failures within LOGIN_WINDOW (even for the right password, until the lock ends)."""
    username = username.strip()[:64]
    now = utcnow()
    _check_throttle(engine, username, now)
    c = staff_users.c
    with engine.connect() as conn:
        row = conn.execute(select(c.username, c.password_hash, c.role, c.display_name, c.disabled_at)
                           .where(c.username == username)).first()
    if not _verify(row.password_hash if row is not None else _dummy_hash(), password[:PASSWORD_LENGTH_MAX]) \
            or row is None or row.disabled_at is not None:
        _record_failure(engine, username, now)
        return None
    _after_success(engine, row.username, row.password_hash, password)
    return StaffUser(row.username, row.role, row.display_name)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _after_success(engine: Engine, username: str, password_hash: str, password: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(staff_login_failures).where(staff_login_failures.c.username == username))
        if _hasher.check_needs_rehash(password_hash):  # parameters were raised since: upgrade on login
            conn.execute(update(staff_users).where(staff_users.c.username == username)
                         .values(password_hash=_hasher.hash(password)))


# --------------------------------------------------------------------------- sessions


LOGIN_PATH = "/login"


def login(engine: Engine, username: str, password: str, *, client: str = "") -> tuple[StaffUser, str] | None:
    """Check the password and open a session: (user, cookie token), or None for a wrong
    username/password. Raises LoginThrottled. Every attempt is audited (401/429/303)."""
    try:
        user = authenticate(engine, username, password)
    except LoginThrottled:
        _audit_attempt(engine, username, 429, client)
        raise
    if user is None:
        _audit_attempt(engine, username, 401, client)
        return None
    return user, start_session(engine, user, client=client)


def _audit_attempt(engine: Engine, username: str, status: int, client: str) -> None:
    with engine.begin() as conn:
        record_action(conn, actor=f"user:{username.strip()[:64]}", role="", method="POST", path=LOGIN_PATH,
                      status=status, client=client)


def start_session(engine: Engine, user: StaffUser, *, client: str = "") -> str:
    """A new session, audited in the same transaction; returns the cookie token (the only time it
    exists outside the browser)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = utcnow()
    c = staff_sessions.c
    with engine.begin() as conn:
        conn.execute(insert(staff_sessions).values(token_hash=hash_token(token), username=user.username,
                                                   created_at=now, last_seen_at=now, client=client[:200]))
        record_action(conn, actor=user.actor, role=user.role, method="POST", path=LOGIN_PATH, status=303,
                      client=client)
        _prune_sessions(conn, user.username, now)
        count = conn.execute(select(func.count()).select_from(staff_sessions).where(c.username == user.username))
        assert count.scalar_one() <= SESSIONS_PER_USER_MAX
    return token


def _prune_sessions(conn: Connection, username: str, now: datetime) -> None:
    c = staff_sessions.c
    conn.execute(delete(staff_sessions).where(c.username == username, (c.last_seen_at < now - SESSION_IDLE)
                                              | (c.created_at < now - SESSION_ABSOLUTE)))
    keep = select(c.token_hash).where(c.username == username).order_by(c.created_at.desc(), c.token_hash) \
        .limit(SESSIONS_PER_USER_MAX)
    kept = set(conn.execute(keep).scalars())
    conn.execute(delete(staff_sessions).where(c.username == username, c.token_hash.not_in(kept)))


def resolve_session(engine: Engine, token: str) -> StaffSession | None:
    """The live session for a cookie token, touching its idle clock; None (and the row deleted) if
    it is unknown, idle for over SESSION_IDLE, older than SESSION_ABSOLUTE, or its user is disabled."""
    if not token or len(token) > 100:
        return None
    token_hash, now = hash_token(token), utcnow()
    s, u = staff_sessions.c, staff_users.c
    query = (select(s.created_at, s.last_seen_at, u.username, u.role, u.display_name, u.disabled_at)
             .join_from(staff_sessions, staff_users, s.username == u.username).where(s.token_hash == token_hash))
    with engine.begin() as conn:
        row = conn.execute(query).first()
        if row is None:
            return None
        if now - row.last_seen_at > SESSION_IDLE or now - row.created_at > SESSION_ABSOLUTE \
                or row.disabled_at is not None:
            conn.execute(delete(staff_sessions).where(s.token_hash == token_hash))
            return None
        conn.execute(update(staff_sessions).where(s.token_hash == token_hash).values(last_seen_at=now))
    return StaffSession(StaffUser(row.username, row.role, row.display_name), token_hash, row.created_at, now)


def end_session(engine: Engine, token: str) -> bool:
    """Log out: the session row is deleted, so the cookie is worthless even if kept. False if unknown."""
    with engine.begin() as conn:
        result = conn.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == hash_token(token)))
    return result.rowcount > 0
