"""Rate limits per API key: a token bucket per key id, enforced after authentication.

Each key gets a bucket of `burst` tokens refilled at `rate_per_s`; a request takes one token or is
refused with 429 (problem+json, Retry-After in whole seconds). The rate comes from the key's own
override, else its role's, else the default. The limiter is shared by every request thread, so
one lock guards it; it tracks at most `keys_max` buckets and evicts the least recently used (an
evicted key simply starts again with a full bucket, which only ever errs towards allowing).

Configuration: `RateLimits(...)` in code, or LENDSTACK_API_RATE_LIMITS="partner=50:100,k_ab12=200:400"
(role or key id = rate per second : burst)."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lendstack.api.permissions import ADMIN, AUDITOR, COLLECTIONS, CREDIT, PARTNER, RISK
from lendstack.api.problems import problem_response
from lendstack.errors import LendstackError

ENV = "LENDSTACK_API_RATE_LIMITS"
KEYS_MAX_DEFAULT = 10_000
RATE_PER_S_MAX = 1_000_000.0
BURST_MAX = 1_000_000
CONFIG_ENTRIES_MAX = 1_000


class RateLimitConfigError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


@dataclass(frozen=True, slots=True)
class Rate:
    rate_per_s: float  # tokens added per second (a rate, not money: float is right here)
    burst: int  # bucket capacity: the most requests allowed back to back

    def __post_init__(self) -> None:
        if not (0 < self.rate_per_s <= RATE_PER_S_MAX) or math.isnan(self.rate_per_s):
            raise RateLimitConfigError("rate_per_s", f"must be in (0, {RATE_PER_S_MAX:g}], got {self.rate_per_s}")
        if not (1 <= self.burst <= BURST_MAX):
            raise RateLimitConfigError("burst", f"must be in [1, {BURST_MAX}], got {self.burst}")


# A partner is one outside system calling at volume: its share is capped so one partner cannot crowd
# out the others. Staff keys are few and trusted (scripts, the back office): a wider bucket.
ROLE_DEFAULTS: dict[str, Rate] = {
    PARTNER: Rate(50.0, 100),
    **{role: Rate(100.0, 200) for role in (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR)},
}
FALLBACK = Rate(10.0, 20)


@dataclass(frozen=True)
class RateLimits:
    by_role: Mapping[str, Rate] = field(default_factory=lambda: dict(ROLE_DEFAULTS))
    by_key: Mapping[str, Rate] = field(default_factory=dict)
    default: Rate = FALLBACK
    keys_max: int = KEYS_MAX_DEFAULT

    def __post_init__(self) -> None:
        if not (1 <= self.keys_max <= 10_000_000):
            raise RateLimitConfigError("keys_max", f"must be in [1, 10000000], got {self.keys_max}")

    def rate_of(self, key_id: str, role: str) -> Rate:
        return self.by_key.get(key_id) or self.by_role.get(role) or self.default

    @classmethod
    def from_env(cls, value: str | None = None) -> RateLimits:
        """The defaults, overridden by LENDSTACK_API_RATE_LIMITS (or `value`)."""
        text = os.environ.get(ENV, "") if value is None else value
        by_role, by_key = dict(ROLE_DEFAULTS), dict[str, Rate]()
        entries = [e.strip() for e in text.split(",") if e.strip()]
        if len(entries) > CONFIG_ENTRIES_MAX:
            raise RateLimitConfigError(ENV, f"at most {CONFIG_ENTRIES_MAX} entries")
        for entry in entries:
            name, rate = _parse_entry(entry)
            (by_role if name in ROLE_DEFAULTS else by_key)[name] = rate
        return cls(by_role=by_role, by_key=by_key)


def _parse_entry(entry: str) -> tuple[str, Rate]:
    name, sep, spec = entry.partition("=")
    per_s, colon, burst = spec.partition(":")
    if not sep or not colon or not name.strip():
        raise RateLimitConfigError(ENV, f"{entry!r}: expected NAME=RATE_PER_S:BURST")
    try:
        return name.strip(), Rate(float(per_s), int(burst))
    except ValueError as exc:
        if isinstance(exc, RateLimitConfigError):
            raise RateLimitConfigError(ENV, f"{entry!r}: {exc.message}") from None
        raise RateLimitConfigError(ENV, f"{entry!r}: RATE_PER_S and BURST must be numbers") from None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float
    refused: bool = False  # ClientLimiter: its last call was refused (an episode of refusals is under way)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int  # 0 when allowed
    remaining: int  # whole tokens left after this request
    # ClientLimiter only: this refusal starts an episode (the bucket allowed its last call). Only such
    # refusals are audited: rows then come at most at the rate the buckets allow calls, not at the flood's.
    first_refused: bool = False


def _refill(bucket: _Bucket, rate: Rate, now_s: float) -> None:
    # A clock that steps back (it should not: monotonic) must not drain or overfill the bucket.
    elapsed_s = max(0.0, now_s - bucket.updated_s)
    bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed_s * rate.rate_per_s)
    bucket.updated_s = now_s


def _wait_s(bucket: _Bucket, rate: Rate) -> int:
    """Whole seconds until the bucket holds one token again (at least 1: Retry-After is whole seconds)."""
    return max(1, math.ceil((1.0 - bucket.tokens) / rate.rate_per_s))


def _lru_bucket(buckets: OrderedDict[str, _Bucket], key: str, buckets_max: int, rate: Rate, now: float) -> _Bucket:
    """The bucket of `key` (most recently used now), or a full new one; at most `buckets_max` are kept,
    the least recently used evicted (an evicted caller starts again full: this only errs towards allowing)."""
    bucket = buckets.get(key)
    if bucket is not None:
        buckets.move_to_end(key)
        return bucket
    while len(buckets) >= buckets_max:  # bounded: runs at most once per new key
        buckets.popitem(last=False)
    bucket = buckets[key] = _Bucket(float(rate.burst), now)
    assert len(buckets) <= buckets_max
    return bucket


class RateLimiter:
    """Token buckets by key id. Thread-safe; at most `limits.keys_max` buckets in memory."""

    def __init__(self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key_id: str, role: str) -> Verdict:
        """Take one token from the key's bucket, or say how long until one is there."""
        assert key_id, "only authenticated calls are limited"
        rate = self.limits.rate_of(key_id, role)
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key_id, rate, now)
            _refill(bucket, rate, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                assert 0.0 <= bucket.tokens <= rate.burst
                return Verdict(True, 0, int(bucket.tokens))
            return Verdict(False, _wait_s(bucket, rate), 0)

    def _bucket(self, key_id: str, rate: Rate, now: float) -> _Bucket:
        return _lru_bucket(self._buckets, key_id, self.limits.keys_max, rate, now)


# --- limits per client address, before anyone is authenticated ---------------------------------------
# A flood from the internet has no key to count by: it is counted by the address it comes from (the
# real peer, or what a trusted proxy says: api/proxies.py), and all addresses together have one bucket
# too, so many addresses cannot add up to an unbounded load. Answers come from memory: a refused call
# costs no hashing and no database work.

CLIENTS_MAX_DEFAULT = 10_000
CLIENT_KEY_CHARS_MAX = 64


TARPITS_MAX = 512  # refused calls held at once (each an idle coroutine and its connection)
TARPIT_S_MAX = 30.0


@dataclass(frozen=True, slots=True)
class ClientLimits:
    per_client: Rate
    overall: Rate  # every client together
    clients_max: int = CLIENTS_MAX_DEFAULT  # buckets kept; the least recently used is evicted
    # A refused call is held this long at most (and no longer than its Retry-After) before its 429:
    # see ClientLimiter.tarpit. 0: answered at once.
    tarpit_s_max: float = 0.0

    def __post_init__(self) -> None:
        if not (1 <= self.clients_max <= 10_000_000):
            raise RateLimitConfigError("clients_max", f"must be in [1, 10000000], got {self.clients_max}")
        if not (0.0 <= self.tarpit_s_max <= TARPIT_S_MAX):
            raise RateLimitConfigError("tarpit_s_max", f"must be in [0, {TARPIT_S_MAX:g}], got {self.tarpit_s_max}")


# POST /login: each attempt costs an argon2 verification (tens of ms of CPU on purpose). A person
# needs a few attempts (a username locks after 5 failures anyway): 10 back to back, then one every
# 5 s per address, and one a second over all addresses (burst 10), so a login flood takes at most
# about one hash's worth of CPU a second from everyone else (and that at a lower priority:
# services/staff.py). The price: a flood from many addresses can make staff wait to log in; it
# cannot stall the API.
# Throttled attempts are held up to 5 s before their 429 (the tarpit): a script that loops on the
# login page is slowed to a few attempts a second at no CPU cost; answered at once, 6 such loops sent
# ~360 attempts/s and their 429 pages alone took the CPU the API needed (p99 ×36).
LOGIN_LIMITS = ClientLimits(per_client=Rate(0.2, 10), overall=Rate(1.0, 10), tarpit_s_max=5.0)
# Refused calls (401, 403, 413) of the API and the console: each may cost a key or session lookup and
# an audit row. A client that keeps being refused is answered 429 from memory.
REFUSAL_LIMITS = ClientLimits(per_client=Rate(1.0, 30), overall=Rate(50.0, 500), tarpit_s_max=2.0)


def client_key(host: str) -> str:
    """The bucket of an address: IPv6 by its /64 (one subscriber gets a whole /64, so single addresses
    would cost an attacker nothing), IPv4 by the address; anything else (a unix socket, a test client)
    by its text, bounded."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:CLIENT_KEY_CHARS_MAX]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientLimiter:
    """A token bucket per client (client_key) and one over all clients. Thread-safe; at most
    `limits.clients_max` client buckets in memory (the least recently used is evicted: an evicted
    client starts again with a full bucket, and the overall bucket still bounds the total)."""

    def __init__(self, limits: ClientLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self._overall = _Bucket(float(limits.overall.burst), clock())
        self._lock = threading.Lock()
        self._tarpitted = 0

    def __len__(self) -> int:
        return len(self._clients)

    async def tarpit(self, verdict: Verdict) -> None:
        """Hold a refused call for its Retry-After (at most limits.tarpit_s_max) before it is answered.
        A client that loops on us (the usual flood: a few connections, each sending again as soon as it
        has an answer) is slowed to our pace, and the wait costs no CPU (an asyncio sleep, nothing held:
        no lock, no connection, no thread). At most TARPITS_MAX are held at once; past that, answered
        at once."""
        delay_s = min(float(verdict.retry_after_s), self.limits.tarpit_s_max)
        with self._lock:
            if delay_s <= 0.0 or self._tarpitted >= TARPITS_MAX:
                return
            self._tarpitted += 1
        try:
            await asyncio.sleep(delay_s)
        finally:
            with self._lock:
                self._tarpitted -= 1
                assert self._tarpitted >= 0

    def take(self, host: str) -> Verdict:
        """Take one token from the client's bucket and the overall one, or refuse (taking none)."""
        return self._verdict(host, take=True)

    def check(self, host: str) -> Verdict:
        """Whether the client's bucket has a token left, taking none: asked before work that only an
        outcome will charge for (a key lookup that may end in 401). A refusal still counts as one."""
        return self._verdict(host, take=False)

    def _verdict(self, host: str, *, take: bool) -> Verdict:
        limits = self.limits
        with self._lock:
            now = self._clock()
            client = self._client(client_key(host), now)
            _refill(client, limits.per_client, now)
            _refill(self._overall, limits.overall, now)
            if client.tokens < 1.0:
                return self._refuse(client, limits.per_client)
            if take and self._overall.tokens < 1.0:
                return self._refuse(self._overall, limits.overall)
            if take:
                client.tokens -= 1.0
                self._overall.tokens -= 1.0
                client.refused = self._overall.refused = False
            assert 0.0 <= client.tokens <= limits.per_client.burst
            return Verdict(True, 0, int(client.tokens))

    @staticmethod
    def _refuse(bucket: _Bucket, rate: Rate) -> Verdict:
        first = not bucket.refused
        bucket.refused = True
        return Verdict(False, _wait_s(bucket, rate), 0, first_refused=first)

    def _client(self, key: str, now: float) -> _Bucket:
        return _lru_bucket(self._clients, key, self.limits.clients_max, self.limits.per_client, now)


class RateLimit:
    """ASGI middleware placed inside the security middleware: the principal is known when it runs.

    Calls without a key (the public contract) are not limited here."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        key_id = str(getattr(principal, "key_id", "") or "")
        if not key_id:
            await self.app(scope, receive, send)
            return
        verdict = self.limiter.take(key_id, str(getattr(principal, "role", "")))
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        await key_rate_limited(self.limiter, key_id, str(getattr(principal, "role", "")), verdict)(scope, receive, send)


def key_rate_limited(limiter: RateLimiter, key_id: str, role: str, verdict: Verdict) -> JSONResponse:
    rate = limiter.limits.rate_of(key_id, role)
    return problem_response(
        429, "rate-limited", f"over {rate.rate_per_s:g} requests/s (burst {rate.burst}) for this key; "
        f"retry after {verdict.retry_after_s} s", "Authorization",
        {"Retry-After": str(verdict.retry_after_s)}, title="Too many requests", retry_after_s=verdict.retry_after_s)
