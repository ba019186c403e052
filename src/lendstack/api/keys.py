"""API keys: `lsk_` + 32 random bytes from `secrets`, shown once, stored only as sha256.

sha256 (not argon2) is right here: a key has 256 bits of entropy, so there is no dictionary to try
and a slow hash would buy nothing but latency on every request; the fast hash also lets us find
the key with one indexed lookup instead of scanning every stored hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from lendstack.api.permissions import PARTNER, ROLES
from lendstack.store.tables_api import api_keys

PREFIX = "lsk_"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    partner_id: str  # '' for staff

    @property
    def is_partner(self) -> bool:
        return self.role == PARTNER


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    token: str  # the only time the secret exists outside the caller's hands
    role: str
    partner_id: str


class KeyError_(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(engine: Engine, role: str, *, partner_id: str = "", label: str = "") -> NewKey:
    if role not in ROLES:
        raise KeyError_("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    if (role == PARTNER) != bool(partner_id):
        raise KeyError_("partner_id", "a partner key needs a partner id, and only a partner key has one")
    key_id = "k_" + secrets.token_hex(6)
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(api_keys).values(key_id=key_id, key_hash=hash_token(token), role=role,
                                             partner_id=partner_id, label=label, created_at=datetime.now(UTC)))
    return NewKey(key_id, token, role, partner_id)


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The key's principal, or None if the token is unknown or revoked."""
    if not token.startswith(PREFIX):
        return None
    c = api_keys.c
    query = select(c.key_id, c.role, c.partner_id, c.revoked_at).where(c.key_hash == hash_token(token))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.key_id, row.role, row.partner_id)


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke; False if there is no such key. Revoking twice keeps the first revocation time."""
    with engine.begin() as conn:
        exists = conn.execute(select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first()
        conn.execute(update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=datetime.now(UTC)))
    return exists is not None


def list_keys(engine: Engine, limit: int, offset: int) -> list[dict[str, Any]]:
    c = api_keys.c
    query = (select(c.key_id, c.role, c.partner_id, c.label, c.created_at, c.revoked_at)
             .order_by(c.created_at, c.key_id).limit(limit).offset(offset))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"key_id": r.key_id, "role": r.role, "partner_id": r.partner_id, "label": r.label,
             "created_at": r.created_at.isoformat(), "revoked": r.revoked_at is not None} for r in rows]
