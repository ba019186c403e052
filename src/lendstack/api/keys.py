"""API keys: `lsk_` + 32 random bytes from `secrets`, shown once, stored only as sha256.

sha256 (not argon2) is right here: a key has 256 bits of entropy, so there is no dictionary to try
and a slow hash would buy nothing but latency on every request; the fast hash also lets us find
the key with one indexed lookup instead of scanning every stored hash.

Authentication is cached per app (`KeyCache`) for at most AUTH_CACHE_TTL_S: a hot partner key is
looked up once per TTL, not on every request. Revocation stays effective: `revoke_key` in this
process invalidates every cache in the process at once (the next request is refused); a key revoked
by ANOTHER process (the CLI, a second server worker) is refused at most AUTH_CACHE_TTL_S later.
Unknown and revoked tokens are never cached, so a guessed token always costs a lookup and cannot
fill the cache.

Making, looking up, revoking and listing keys are use cases in `services/api_access.py`; this module
keeps what is the API's own: the principal of a request and the per-process cache."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from lendstack.api.permissions import PARTNER, ROLES
from lendstack.services import api_access
from lendstack.services.api_access import PREFIX, hash_token
from lendstack.services.api_access import ApiKeyError as KeyError_
from lendstack.services.api_access import IssuedKey as NewKey

__all__ = ["AUTH_CACHE_KEYS_MAX", "AUTH_CACHE_TTL_S", "PREFIX", "KeyCache", "KeyError_", "NewKey", "Principal",
           "authenticate", "create_key", "hash_token", "list_keys", "revoke_key"]

AUTH_CACHE_TTL_S = 2.0  # the bound on how long another process's revocation can go unseen
AUTH_CACHE_KEYS_MAX = 1_000  # valid keys held; the least recently used is dropped first
_revocations = itertools.count(1)  # bumped by every revoke_key in this process
_generation = [0]  # the last value taken from _revocations
# The service keeps the API's roles without importing the API: one list, checked here.
assert api_access.KEY_ROLES == ROLES and api_access.PARTNER_ROLE == PARTNER, "the key roles are the API's roles"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    partner_id: str  # '' for staff

    @property
    def is_partner(self) -> bool:
        return self.role == PARTNER


def create_key(engine: Engine, role: str, *, partner_id: str = "", label: str = "") -> NewKey:
    """A new key, shown once (services/api_access.py); KeyError_ names a bad input."""
    return api_access.create_key(engine, role, partner_id=partner_id, label=label)


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
    found = api_access.key_by_hash(engine, key_hash)
    if found is None or found.revoked:
        return None
    principal = Principal(found.key_id, found.role, found.partner_id)
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
    exists = api_access.revoke_key(engine, key_id)
    # After the commit: every KeyCache in this process drops what it holds (a lookup racing this
    # one read the generation before and will not cache its possibly stale answer).
    _generation[0] = next(_revocations)
    return exists


def list_keys(engine: Engine, limit: int, offset: int) -> list[dict[str, Any]]:
    return [key.to_json() for key in api_access.list_keys(engine, limit, offset)]
