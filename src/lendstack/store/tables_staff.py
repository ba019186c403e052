"""Staff users (argon2-hashed passwords, roles), console sessions (sha256 of the cookie token only)
and the per-user login throttle. Created by migration 0008."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, Table, Text

from lendstack.store.tables import UtcDateTime, metadata

staff_users = Table(
    "staff_users",
    metadata,
    Column("username", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id, salted, parameters inside the string
    Column("role", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # sha256 of the 256-bit cookie token: a database reader cannot replay a session.
    Column("token_hash", Text, primary_key=True),
    Column("username", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),  # absolute expiry counts from here
    Column("last_seen_at", UtcDateTime, nullable=False),  # idle expiry counts from here
    Column("client", Text, nullable=False),
    Index("ix_staff_sessions_username", "username"),
)

staff_login_failures = Table(
    "staff_login_failures",
    metadata,
    # A row per staff user that failed, so the table is bounded by staff_users. Made-up usernames are
    # counted in memory (services/staff.py _UnknownNameFailures) by the same rule, so the answers
    # still do not tell which usernames exist. (Books from before issue 12 may hold such rows: they
    # keep working and are never added to.)
    Column("username", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
)
