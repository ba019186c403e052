"""Staff users, console sessions and the per-user login throttle: the SQL of services/staff.py.

Every method runs on the caller's connection (in its transaction) and returns plain values or the
frozen records below, never rows. The rules (who may do what, when a session expires, when a user
is locked) are the service's; this module only reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lendstack.invariants import check
from lendstack.store.tables_staff import staff_login_failures, staff_sessions, staff_users

LISTING_MAX = 1_000  # users on one page of the staff list


@dataclass(frozen=True, slots=True)
class StoredUser:
    username: str
    role: str
    display_name: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserListing:
    """A staff user with the throttle's lock (None: no throttle row, or it holds no lock)."""

    username: str
    role: str
    display_name: str
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class Throttle:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session joined with its user."""

    token_hash: str
    created_at: datetime
    last_seen_at: datetime
    username: str
    role: str
    display_name: str
    disabled_at: datetime | None


_USER_COLUMNS = (staff_users.c.username, staff_users.c.role, staff_users.c.display_name, staff_users.c.password_hash,
                 staff_users.c.created_at, staff_users.c.disabled_at)


class StaffRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ------------------------------------------------------------------ users

    def user(self, username: str, *, for_update: bool = False) -> StoredUser | None:
        """The user, disabled or not; for_update locks the row (PostgreSQL) for a command on it."""
        query = select(*_USER_COLUMNS).where(staff_users.c.username == username)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        return StoredUser(str(row.username), str(row.role), str(row.display_name), str(row.password_hash),
                          row.created_at, row.disabled_at)

    def add_user(self, username: str, *, password_hash: str, role: str, display_name: str,
                 created_at: datetime) -> bool:
        """Insert the user; False if the username is taken (a concurrent create won the race). The
        caller must end its transaction then: on PostgreSQL it is aborted."""
        try:
            self.connection.execute(insert(staff_users).values(
                username=username, password_hash=password_hash, role=role, display_name=display_name,
                created_at=created_at))
        except IntegrityError:
            return False
        return True

    def usernames(self) -> set[str]:
        return {str(u) for u in self.connection.execute(select(staff_users.c.username)).scalars()}

    def listing(self, limit: int) -> list[UserListing]:
        """Users by username with their throttle's locked_until (as stored: it may be in the past)."""
        check(0 < limit <= LISTING_MAX, f"limit in 1..{LISTING_MAX}")
        c, f = staff_users.c, staff_login_failures.c
        query = (select(c.username, c.role, c.display_name, c.created_at, c.disabled_at, f.locked_until)
                 .join_from(staff_users, staff_login_failures, f.username == c.username, isouter=True)
                 .order_by(c.username).limit(limit))
        return [UserListing(str(r.username), str(r.role), str(r.display_name), r.created_at, r.disabled_at,
                            r.locked_until) for r in self.connection.execute(query).all()]

    def active_admins(self, admin_role: str) -> list[str]:
        """The usernames of the active users of the admin role, their rows locked (PostgreSQL) so two
        admins cannot disable each other at once."""
        c = staff_users.c
        query = select(c.username).where(c.role == admin_role, c.disabled_at.is_(None)).with_for_update()
        return [str(u) for u in self.connection.execute(query).scalars().all()]

    def set_disabled_at(self, username: str, disabled_at: datetime | None) -> None:
        self.connection.execute(update(staff_users).where(staff_users.c.username == username)
                                .values(disabled_at=disabled_at))

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self.connection.execute(update(staff_users).where(staff_users.c.username == username)
                                .values(password_hash=password_hash))

    # ------------------------------------------------------------------ the login throttle

    def throttle(self, username: str) -> Throttle | None:
        c = staff_login_failures.c
        row = self.connection.execute(select(c.failures, c.window_started_at, c.locked_until)
                                      .where(c.username == username)).first()
        return None if row is None else Throttle(int(row.failures), row.window_started_at, row.locked_until)

    def save_throttle(self, username: str, throttle: Throttle, *, exists: bool) -> None:
        """Write the throttle of `username`: an update of its row if `exists`, else a new row."""
        values = {"failures": throttle.failures, "window_started_at": throttle.window_started_at,
                  "locked_until": throttle.locked_until}
        if exists:
            self.connection.execute(update(staff_login_failures)
                                    .where(staff_login_failures.c.username == username).values(**values))
        else:
            self.connection.execute(insert(staff_login_failures).values(username=username, **values))

    def clear_throttle(self, username: str) -> None:
        self.connection.execute(delete(staff_login_failures).where(staff_login_failures.c.username == username))

    # ------------------------------------------------------------------ sessions

    def add_session(self, token_hash: str, username: str, *, at: datetime, client: str) -> None:
        self.connection.execute(insert(staff_sessions).values(token_hash=token_hash, username=username,
                                                              created_at=at, last_seen_at=at, client=client))

    def session(self, token_hash: str) -> StoredSession | None:
        s, u = staff_sessions.c, staff_users.c
        query = (select(s.created_at, s.last_seen_at, u.username, u.role, u.display_name, u.disabled_at)
                 .join_from(staff_sessions, staff_users, s.username == u.username).where(s.token_hash == token_hash))
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return StoredSession(token_hash, row.created_at, row.last_seen_at, str(row.username), str(row.role),
                             str(row.display_name), row.disabled_at)

    def touch_session(self, token_hash: str, at: datetime) -> None:
        self.connection.execute(update(staff_sessions).where(staff_sessions.c.token_hash == token_hash)
                                .values(last_seen_at=at))

    def delete_session(self, token_hash: str) -> int:
        """How many rows went (0 or 1)."""
        result = self.connection.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == token_hash))
        return int(result.rowcount or 0)

    def end_sessions(self, username: str) -> int:
        """Delete every session of `username`; how many there were."""
        result = self.connection.execute(delete(staff_sessions).where(staff_sessions.c.username == username))
        return int(result.rowcount or 0)

    def prune_sessions(self, username: str, *, seen_before: datetime, created_before: datetime,
                       keep_max: int) -> None:
        """Drop the user's sessions last seen before `seen_before` or created before `created_before`,
        then all but the `keep_max` newest."""
        check(keep_max >= 1, "a user keeps at least the session just opened")
        c = staff_sessions.c
        self.connection.execute(delete(staff_sessions).where(
            c.username == username, (c.last_seen_at < seen_before) | (c.created_at < created_before)))
        keep = (select(c.token_hash).where(c.username == username).order_by(c.created_at.desc(), c.token_hash)
                .limit(keep_max))
        kept = set(self.connection.execute(keep).scalars())
        self.connection.execute(delete(staff_sessions).where(c.username == username, c.token_hash.not_in(kept)))

    def session_count(self, username: str) -> int:
        query = select(func.count()).select_from(staff_sessions).where(staff_sessions.c.username == username)
        return int(self.connection.execute(query).scalar_one())
