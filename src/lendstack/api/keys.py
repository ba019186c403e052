"""API keys: `lsk_` + 32 random bytes from `secrets`, shown once, stored only as sha256.

sha256 (not argon2) is right here: a key has 256 bits of entropy, so there is no dictionary to try
and a slow hash would buy nothing but latency on every request; the fast hash also lets us find
the key with one indexed lookup instead of scanning every stored hash.

Authentication is cached per app (`KeyCache`) for at most AUTH_CACHE_TTL_S: a hot partner key is
looked up once per TTL, not on every request. Revocation stays effective: `revoke_key` in this
process invalidates every cache in the process at once (the next request is refused); a key revoked
by ANOTHER process (the CLI, a second server worker) is refused at most AUTH_CACHE_TTL_S later.
Unknown and revoked tokens are never cached, so a guessed token always costs a lookup and cannot
fill the cache."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from lendstack import text
from lendstack.api.permissions import PARTNER, ROLES
from lendstack.store.db import read_only
from lendstack.store.tables_api import api_keys

PREFIX = "lsk_"
AUTH_CACHE_TTL_S = 2.0  # the bound on how long another process's revocation can go unseen
AUTH_CACHE_KEYS_MAX = 1_000  # valid keys held; the least recently used is dropped first
LABEL_LENGTH_MAX = 200  # a note on who holds the key
PARTNER_ID_LENGTH_MAX = 64
_revocations = itertools.count(1)  # bumped by every revoke_key in this process
_generation = [0]  # the last value taken from _revocations


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
    try:  # shown to admins in key lists and the audit report
        label = text.clean_name(label, field="label", length_max=LABEL_LENGTH_MAX)
        partner_id = text.clean_name(partner_id, field="partner_id", length_max=PARTNER_ID_LENGTH_MAX)
    except text.TextError as exc:
        raise KeyError_(exc.field, exc.message) from None
    key_id = "k_" + secrets.token_hex(6)
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(api_keys).values(key_id=key_id, key_hash=hash_token(token), role=role,
                                             partner_id=partner_id, label=label, created_at=datetime.now(UTC)))
    return NewKey(key_id, token, role, partner_id)


_KEY_QUERY = (select(api_keys.c.key_id, api_keys.c.role, api_keys.c.partner_id, api_keys.c.revoked_at)
              .where(api_keys.c.key_hash == bindparam("key_hash")))


def authenticate(engine: Engine, token: str, cache: KeyCache | None = None) -> Principal | None:
    """The key's principal, or None if the token is unknown or revoked (cached for a valid key if `cache`)."""
    if not token.startswith(PREFIX):
        return None
    key_hash = hash_token(token)
    if cache is not None:
        cached = cache.get(key_hash)
        if cached is not None:
            return cached
    generation = _generation[0]  # read BEFORE the lookup: a revocation during it invalidates the entry
    with read_only(engine) as conn:
        row = conn.execute(_KEY_QUERY, {"key_hash": key_hash}).first()
    if row is None or row.revoked_at is not None:
        return None
    principal = Principal(row.key_id, row.role, row.partner_id)
    if cache is not None:
        cache.put(key_hash, principal, generation)
    return principal


class KeyCache:
    """Valid keys by token hash, each for at most `ttl_s`; thread-safe, at most `keys_max` entries."""

    def __init__(self, ttl_s: float = AUTH_CACHE_TTL_S, keys_max: int = AUTH_CACHE_KEYS_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        assert 0 <= ttl_s <= 60, "a long TTL would let a revoked key in for that long"
        assert keys_max >= 1
        self.ttl_s, self.keys_max, self._clock = ttl_s, keys_max, clock
        self._entries: OrderedDict[str, tuple[Principal, float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_hash: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            principal, expires_s, generation = entry
            if generation != _generation[0] or self._clock() >= expires_s:
                del self._entries[key_hash]
                return None
            self._entries.move_to_end(key_hash)
            return principal

    def put(self, key_hash: str, principal: Principal, generation: int) -> None:
        if generation != _generation[0] or self.ttl_s <= 0:
            return  # revoked something while we looked: this answer may be stale already
        with self._lock:
            self._entries[key_hash] = (principal, self._clock() + self.ttl_s, generation)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.keys_max:  # bounded: at most one pass per put
                self._entries.popitem(last=False)


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke; False if there is no such key. Revoking twice keeps the first revocation time."""
    with engine.begin() as conn:
        exists = conn.execute(select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first()
        conn.execute(update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=datetime.now(UTC)))
    # After the commit: every KeyCache in this process drops what it holds (a lookup racing this
    # one read the generation before and will not cache its possibly stale answer).
    _generation[0] = next(_revocations)
    return exists is not None


def list_keys(engine: Engine, limit: int, offset: int) -> list[dict[str, Any]]:
    c = api_keys.c
    query = (select(c.key_id, c.role, c.partner_id, c.label, c.created_at, c.revoked_at)
             .order_by(c.created_at, c.key_id).limit(limit).offset(offset))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"key_id": r.key_id, "role": r.role, "partner_id": r.partner_id, "label": r.label,
             "created_at": r.created_at.isoformat(), "revoked": r.revoked_at is not None} for r in rows]
