"""Staff users and console sessions: argon2id passwords, a per-username login throttle, and sessions
whose 256-bit token lives only in the browser's cookie (the database keeps its sha256).

Staff roles are defined here (the service layer cannot import lendstack.api); the API's permission
matrix imports them, so there is one list. A partner is not staff: partners use API keys only."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lendstack import text
from lendstack.errors import ErrorKind, LendstackError
from lendstack.invariants import check
from lendstack.services import passwords
from lendstack.store import Connection, Engine
from lendstack.store.audit_repo import AuditRepository
from lendstack.store.staff_repo import StaffRepository, StoredUser, Throttle

ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR = "admin", "risk_manager", "credit_officer", "collections_agent", "auditor"
OPERATIONS = "operations"  # back office (运营/账务): reverses bounced payments, books recoveries and refunds
STAFF_ROLES = (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS)

USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{2,31}")
# The password rule lives in services.passwords (length, variety, sequences, common list, username).
PASSWORD_LENGTH_MIN, PASSWORD_LENGTH_MAX = passwords.PASSWORD_LENGTH_MIN, passwords.PASSWORD_LENGTH_MAX
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


class StaffError(LendstackError):
    """Bad input to a staff command or login (names the field)."""


class LoginThrottled(StaffError):
    kind = ErrorKind.RATE_LIMITED

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


def _check_password(password: str, username: str = "") -> None:
    """The one password rule (creation and reset alike, every role): services.passwords."""
    try:
        passwords.check_password(password, username=username)
    except passwords.PasswordRefused as exc:
        raise StaffError("password", exc.message) from None


def _check_new_user(username: str, password: str, role: str, display_name: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise StaffError("username", "3-32 characters: a lowercase letter, then lowercase letters, digits, . _ -")
    _check_password(password, username)
    if role not in STAFF_ROLES:
        raise StaffError("role", f"must be one of {', '.join(STAFF_ROLES)}, got {role!r}")
    _display_name(display_name)


def _display_name(display_name: str) -> str:
    """NFC, without control, zero-width or bidi characters (lendstack.text): it is shown to staff and auditors."""
    try:
        return text.clean_name(display_name, field="display_name", length_max=DISPLAY_NAME_LENGTH_MAX)
    except text.TextError as exc:
        raise StaffError(exc.field, exc.message) from None


# Every text of an audit row is cut to its bound HERE, for every writer (the API's audit_in, the
# console guard, the login, the CLI): whoever sends a 60,000-character path or header must not
# decide how much we store. Columns are Text; these are characters (at most 4 bytes each).
AUDIT_TEXT_CHARS_MAX = {"key_id": 100, "role": 40, "partner_id": 100, "method": 16, "path": 500, "client": 100,
                        "idempotency_key": 200}


def record_action(conn: Connection, *, actor: str, role: str, method: str, path: str, status: int,
                  client: str = "", idempotency_key: str = "", partner_id: str = "",
                  at: datetime | None = None) -> None:
    """One audit row (who, what, when, from where) on `conn`, i.e. in the caller's transaction.
    The one writer of api_audit rows: every text is bounded by AUDIT_TEXT_CHARS_MAX."""
    assert method and path, "an audit row names what was done"
    assert 100 <= status <= 599, status
    texts = {"key_id": actor, "role": role, "partner_id": partner_id, "method": method, "path": path,
             "client": client, "idempotency_key": idempotency_key}
    row: dict[str, Any] = {name: text[:AUDIT_TEXT_CHARS_MAX[name]] for name, text in texts.items()}
    AuditRepository(conn).add(row | {"at": at if at is not None else utcnow(), "status": status})


def audit_request(engine: Engine, *, actor: str, role: str, method: str, path: str, status: int, client: str = "",
                  idempotency_key: str = "") -> None:
    """`record_action` in a transaction of its own, committed on return (the console guard's audit
    row, written before the response starts)."""
    with engine.begin() as conn:
        record_action(conn, actor=actor, role=role, method=method, path=path, status=status, client=client,
                      idempotency_key=idempotency_key)


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A staff user just created."""

    username: str
    role: str
    display_name: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "display_name": self.display_name,
                "created_at": self.created_at.isoformat()}


def create_user(engine: Engine, username: str, password: str, role: str, *, display_name: str = "",
                actor: str = "cli", actor_role: str = "", client: str = "") -> CreatedUser:
    """Create a staff user; the creation is audited in the same transaction. Errors name the field."""
    _check_new_user(username, password, role, display_name)
    display_name = _display_name(display_name)
    password_hash = _hasher.hash(password)  # before the transaction: hashing is slow on purpose
    now = utcnow()
    with engine.begin() as conn:
        users = StaffRepository(conn)
        # add_user is False when a concurrent create of the same name won the race.
        if users.user(username) is not None or not users.add_user(
                username, password_hash=password_hash, role=role, display_name=display_name or username,
                created_at=now):
            raise StaffError("username", f"{username!r} already exists")
        record_action(conn, actor=actor, role=actor_role or (ADMIN if actor == "cli" else ""), method="CREATE",
                      path=f"staff_users/{username}", status=201, client=client)
    return CreatedUser(username, role, display_name or username, now)


def get_user(engine: Engine, username: str) -> StaffUser | None:
    with engine.connect() as conn:
        row = StaffRepository(conn).user(username)
    if row is None or row.disabled_at is not None:
        return None
    return StaffUser(row.username, row.role, row.display_name)


@dataclass(frozen=True, slots=True)
class StaffListing:
    """A staff user as the staff list shows them."""

    username: str
    role: str
    display_name: str
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None  # only while the login throttle holds
    last_login_at: datetime | None  # the newest successful login in the audit trail

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "display_name": self.display_name,
                "created_at": self.created_at.isoformat(), "disabled": self.disabled_at is not None,
                "disabled_at": _iso(self.disabled_at), "locked_until": _iso(self.locked_until),
                "last_login_at": _iso(self.last_login_at)}


def staff_listing(engine: Engine, limit: int = USERS_LIST_MAX) -> list[StaffListing]:
    """Every staff user (by username) with status: disabled, locked (while the throttle holds), last login."""
    assert 0 < limit <= USERS_LIST_MAX
    now = utcnow()
    with engine.connect() as conn:
        rows = StaffRepository(conn).listing(limit)
        last_logins = _last_logins(conn, [r.username for r in rows])
    return [StaffListing(r.username, r.role, r.display_name, r.created_at, r.disabled_at,
                         r.locked_until if is_locked(r.locked_until, now) else None, last_logins.get(r.username))
            for r in rows]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _last_logins(conn: Connection, usernames: list[str]) -> dict[str, datetime]:
    """{username: time of the newest successful login}: start_session audits each one (POST /login, 303)."""
    assert len(usernames) <= USERS_LIST_MAX
    newest = AuditRepository(conn).newest_at([f"user:{u}" for u in usernames], path=LOGIN_PATH, status=303)
    return {key_id.removeprefix("user:"): at for key_id, at in newest.items()}


# --------------------------------------------------------------------------- administering users
# Each command is one transaction that changes the user and writes its audit row (method = the
# command, path = staff_users/<name>); `by` is the admin acting (None: the CLI). Errors name the field.


class StaffNotFound(StaffError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, username: str) -> None:
        super().__init__("username", f"no staff user {username!r}")


@dataclass(frozen=True, slots=True)
class UserDisabled:
    username: str
    disabled_at: datetime
    sessions_ended: int

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "disabled_at": self.disabled_at.isoformat(),
                "sessions_ended": self.sessions_ended}


@dataclass(frozen=True, slots=True)
class UserEnabled:
    username: str

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "disabled_at": None}


@dataclass(frozen=True, slots=True)
class PasswordSet:
    username: str
    sessions_ended: int

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "sessions_ended": self.sessions_ended}


@dataclass(frozen=True, slots=True)
class UserUnlocked:
    username: str

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "locked_until": None}


StaffCommandResult = UserDisabled | UserEnabled | PasswordSet | UserUnlocked


def _actor(by: StaffUser | None) -> tuple[str, str]:
    return (by.actor, by.role) if by is not None else ("cli", ADMIN)


def _user_row(users: StaffRepository, username: str, *, for_update: bool = False) -> StoredUser:
    row = users.user(username, for_update=for_update)
    if row is None:
        raise StaffNotFound(username)
    return row


def disable_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> UserDisabled:
    """Set disabled_at and end the user's sessions at once. An admin cannot disable themself, and the
    last active admin cannot be disabled (the console would have nobody left to manage staff)."""
    if by is not None and by.username == username:
        raise StaffError("username", "you cannot disable your own account")
    actor, actor_role = _actor(by)
    now = utcnow()
    with engine.begin() as conn:
        users = StaffRepository(conn)
        row = _user_row(users, username, for_update=True)
        if row.disabled_at is not None:
            raise StaffError("username", f"{username!r} is already disabled")
        # Locks the active admins' rows (PostgreSQL) so two admins cannot disable each other at once.
        if row.role == ADMIN and set(users.active_admins(ADMIN)) <= {username}:
            raise StaffError("username", f"{username!r} is the last active admin")
        users.set_disabled_at(username, now)
        ended = users.end_sessions(username)  # the next request with any of their cookies goes to /login
        record_action(conn, actor=actor, role=actor_role, method="DISABLE", path=f"staff_users/{username}",
                      status=200, client=client)
    return UserDisabled(username, now, ended)


def enable_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> UserEnabled:
    actor, actor_role = _actor(by)
    with engine.begin() as conn:
        users = StaffRepository(conn)
        row = _user_row(users, username, for_update=True)
        if row.disabled_at is None:
            raise StaffError("username", f"{username!r} is not disabled")
        users.set_disabled_at(username, None)
        record_action(conn, actor=actor, role=actor_role, method="ENABLE", path=f"staff_users/{username}",
                      status=200, client=client)
    return UserEnabled(username)


def set_password(engine: Engine, username: str, password: str, *, by: StaffUser | None = None,
                 client: str = "") -> PasswordSet:
    """A new password (the create_user rule) and every session of the user ended, theirs included."""
    _check_password(password, username)
    actor, actor_role = _actor(by)
    password_hash = _hasher.hash(password)  # before the transaction: hashing is slow on purpose
    with engine.begin() as conn:
        users = StaffRepository(conn)
        _user_row(users, username, for_update=True)
        users.set_password_hash(username, password_hash)
        ended = users.end_sessions(username)
        record_action(conn, actor=actor, role=actor_role, method="PASSWORD", path=f"staff_users/{username}",
                      status=200, client=client)
    return PasswordSet(username, ended)


def unlock_user(engine: Engine, username: str, *, by: StaffUser | None = None, client: str = "") -> UserUnlocked:
    """Clear the login throttle of a locked user (the failure count too), so they may log in now."""
    actor, actor_role = _actor(by)
    with engine.begin() as conn:
        users = StaffRepository(conn)
        _user_row(users, username)
        throttle = users.throttle(username)
        if not is_locked(throttle.locked_until if throttle is not None else None, utcnow()):
            raise StaffError("username", f"{username!r} is not locked")
        users.clear_throttle(username)
        record_action(conn, actor=actor, role=actor_role, method="UNLOCK", path=f"staff_users/{username}",
                      status=200, client=client)
    return UserUnlocked(username)


def ensure_demo_staff(engine: Engine) -> list[tuple[str, str, str]]:
    """One demo user per staff role with a fixed, well-known password: [(username, password, role)].
    Idempotent: users that already exist are left alone (a second call creates nothing)."""
    with engine.connect() as conn:
        existing = StaffRepository(conn).usernames()
    for username, role, password in DEMO_STAFF:
        if username not in existing:
            create_user(engine, username, password, role, display_name=f"Demo {role.replace('_', ' ')}")
    return [(username, password, role) for username, role, password in DEMO_STAFF]


# --------------------------------------------------------------------------- logging in
# Password verification (argon2: slow on purpose) never runs while a database connection, a
# transaction or the SQLite request lock is held: the lock serialises every request of the site
# (api/app.py OneAtATime), so a hash under it would stall everyone for its whole length. A login
# is therefore a few short database steps, each under `db_lock` (the SQLite request lock the
# caller passes; None elsewhere), with the hashing in between.


def _serial(db_lock: AbstractContextManager[Any] | None) -> AbstractContextManager[Any]:
    return db_lock if db_lock is not None else nullcontext()


def _after_failure(failures: int, window_started_at: datetime | None,
                   now: datetime) -> tuple[int, datetime, datetime | None]:
    """The throttle after one more failure: (failures, window start, locked until). One rule for
    staff users (a row) and for unknown names (memory)."""
    if window_started_at is None or now - window_started_at > LOGIN_WINDOW:
        failures, window_started_at = 0, now
    failures += 1
    if failures >= LOGIN_FAILURES_MAX:
        return 0, now, now + LOGIN_LOCKOUT
    return failures, window_started_at, None


class _UnknownNameFailures:
    """Failed logins for names that are not staff users, in memory: a flood of made-up names must not
    grow a table. They are throttled by the same rule as real users (so the answers do not tell which
    names exist); at most UNKNOWN_NAMES_MAX names are kept, the least recently failed dropped first
    (dropping one only forgets some failures of a name nobody can log in as)."""

    def __init__(self, names_max: int) -> None:
        assert names_max >= 1
        self.names_max = names_max
        self._entries: OrderedDict[tuple[str, str], tuple[int, datetime, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def locked_until(self, book: str, username: str) -> datetime | None:
        with self._lock:
            entry = self._entries.get((book, username))
        return entry[2] if entry is not None else None

    def record(self, book: str, username: str, now: datetime) -> None:
        with self._lock:
            failures, window_started_at, _locked = self._entries.pop((book, username), (0, None, None))
            self._entries[(book, username)] = _after_failure(failures, window_started_at, now)
            while len(self._entries) > self.names_max:
                self._entries.popitem(last=False)
            assert len(self._entries) <= self.names_max


UNKNOWN_NAMES_MAX = 10_000
_unknown_names = _UnknownNameFailures(UNKNOWN_NAMES_MAX)


def _book(engine: Engine) -> str:
    """Which book an unknown name failed against (tests and tools open several in one process)."""
    return engine.url.render_as_string(hide_password=True)


def _record_failure(engine: Engine, username: str, now: datetime) -> None:
    """Count a failed login of a staff user (a row per USER, so the table is bounded by staff_users)."""
    with engine.begin() as conn:
        users = StaffRepository(conn)
        row = users.throttle(username)
        after = Throttle(*_after_failure(row.failures if row is not None else 0,
                                         row.window_started_at if row is not None else None, now))
        users.save_throttle(username, after, exists=row is not None)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    """The login throttle holds (a lock in the past is no lock)."""
    return locked_until is not None and locked_until > now


def _check_throttle(locked_until: datetime | None, now: datetime) -> None:
    if locked_until is not None and is_locked(locked_until, now):
        raise LoginThrottled(int((locked_until - now).total_seconds()))


def authenticate(engine: Engine, username: str, password: str, *,
                 db_lock: AbstractContextManager[Any] | None = None) -> StaffUser | None:
    """The user if the password is right; None otherwise. Raises LoginThrottled after
    LOGIN_FAILURES_MAX failures within LOGIN_WINDOW (even for the right password, until the lock ends)."""
    username = username.strip()[:64]
    now = utcnow()
    with _serial(db_lock), engine.connect() as conn:  # one short step: the throttle and the user
        users = StaffRepository(conn)
        throttle, row = users.throttle(username), users.user(username)
    # A row of an unknown name may predate the in-memory count (older versions stored them): both hold.
    stored_lock = throttle.locked_until if throttle is not None else None
    memory_lock = _unknown_names.locked_until(_book(engine), username) if row is None else None
    _check_throttle(max((t for t in (stored_lock, memory_lock) if t is not None), default=None), now)
    # No connection and no lock from here to the next step: this is the slow part.
    verified = _verify(row.password_hash if row is not None else _dummy_hash(), password[:PASSWORD_LENGTH_MAX])
    if row is None:
        _unknown_names.record(_book(engine), username, now)
        return None
    if not verified or row.disabled_at is not None:
        with _serial(db_lock):
            _record_failure(engine, username, now)
        return None
    _after_success(engine, row.username, row.password_hash, password, db_lock)
    return StaffUser(row.username, row.role, row.display_name)


# Logins verify on ONE thread of their own, at the lowest CPU priority: argon2 keeps every core busy
# for tens of ms on purpose, and at the same priority a few parallel verifications took the CPU from
# the event loop and the requests (p50 of the decision endpoint 22 → 630 ms under 2 login loops).
# SCHED_IDLE (Linux; else nice 10) runs it on CPU time nothing else wants; argon2's lane threads
# inherit the policy. At most HASHES_QUEUED_MAX are queued or running; past that, or if one waits
# longer than HASHING_WAIT_S (a server busy serving), the attempt is throttled, unhashed.
HASHING_NICE = 10
HASHES_QUEUED_MAX = 16
HASHING_WAIT_S = 30.0


def _lower_priority() -> None:
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))  # Linux: per thread
    except (AttributeError, OSError):
        # Not permitted or not supported: niced, or at worst the same priority, still one at a time.
        with suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, tid, HASHING_NICE)


_hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lendstack-login-hash", initializer=_lower_priority)
_hashes_queued = threading.BoundedSemaphore(HASHES_QUEUED_MAX)


def _verify(password_hash: str, password: str) -> bool:
    if not _hashes_queued.acquire(blocking=False):
        raise LoginThrottled(1)
    future = _hashing.submit(_verify_here, password_hash, password)
    future.add_done_callback(lambda _done: _hashes_queued.release())  # the slot is free when the hash is done
    try:
        return future.result(timeout=HASHING_WAIT_S)
    except TimeoutError:
        raise LoginThrottled(1) from None


def _verify_here(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _after_success(engine: Engine, username: str, password_hash: str, password: str,
                   db_lock: AbstractContextManager[Any] | None) -> None:
    # Parameters were raised since the hash was made: upgrade it on login, hashed before the step.
    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
    with _serial(db_lock), engine.begin() as conn:
        users = StaffRepository(conn)
        users.clear_throttle(username)
        if new_hash is not None:
            users.set_password_hash(username, new_hash)


# --------------------------------------------------------------------------- sessions


LOGIN_PATH = "/login"


def login(engine: Engine, username: str, password: str, *, client: str = "",
          db_lock: AbstractContextManager[Any] | None = None) -> tuple[StaffUser, str] | None:
    """Check the password and open a session: (user, cookie token), or None for a wrong
    username/password. Raises LoginThrottled. Every attempt is audited (401/429/303).
    `db_lock`: held around each short database step only, never around the hashing."""
    try:
        user = authenticate(engine, username, password, db_lock=db_lock)
    except LoginThrottled:
        audit_login(engine, username, 429, client=client, db_lock=db_lock)
        raise
    if user is None:
        audit_login(engine, username, 401, client=client, db_lock=db_lock)
        return None
    with _serial(db_lock):
        return user, start_session(engine, user, client=client)


def audit_login(engine: Engine, username: str, status: int, *, client: str = "",
                db_lock: AbstractContextManager[Any] | None = None) -> None:
    """The audit row of a login attempt that opened no session (refused, failed or throttled)."""
    with _serial(db_lock), engine.begin() as conn:
        record_action(conn, actor=f"user:{username.strip()[:64]}", role="", method="POST", path=LOGIN_PATH,
                      status=status, client=client)


def start_session(engine: Engine, user: StaffUser, *, client: str = "") -> str:
    """A new session, audited in the same transaction; returns the cookie token (the only time it
    exists outside the browser)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = utcnow()
    with engine.begin() as conn:
        sessions = StaffRepository(conn)
        sessions.add_session(hash_token(token), user.username, at=now, client=client[:200])
        record_action(conn, actor=user.actor, role=user.role, method="POST", path=LOGIN_PATH, status=303,
                      client=client)
        sessions.prune_sessions(user.username, seen_before=now - SESSION_IDLE, created_before=now - SESSION_ABSOLUTE,
                                keep_max=SESSIONS_PER_USER_MAX)
        check(sessions.session_count(user.username) <= SESSIONS_PER_USER_MAX, "sessions per user are bounded")
    return token


def resolve_session(engine: Engine, token: str) -> StaffSession | None:
    """The live session for a cookie token, touching its idle clock; None (and the row deleted) if
    it is unknown, idle for over SESSION_IDLE, older than SESSION_ABSOLUTE, or its user is disabled."""
    if not token or len(token) > 100:
        return None
    token_hash, now = hash_token(token), utcnow()
    with engine.begin() as conn:
        sessions = StaffRepository(conn)
        row = sessions.session(token_hash)
        if row is None:
            return None
        if session_expired(row.created_at, row.last_seen_at, now) or row.disabled_at is not None:
            sessions.delete_session(token_hash)
            return None
        sessions.touch_session(token_hash, now)
    return StaffSession(StaffUser(row.username, row.role, row.display_name), token_hash, row.created_at, now)


def end_session(engine: Engine, token: str) -> bool:
    """Log out: the session row is deleted, so the cookie is worthless even if kept. False if unknown."""
    with engine.begin() as conn:
        deleted = StaffRepository(conn).delete_session(hash_token(token))
    return deleted > 0


def session_expired(created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    """Idle for over SESSION_IDLE or older than SESSION_ABSOLUTE."""
    return now - last_seen_at > SESSION_IDLE or now - created_at > SESSION_ABSOLUTE
