"""Rate limits per API key: a token bucket per key id, enforced after authentication.

Each key gets a bucket of `burst` tokens refilled at `rate_per_s`; a request takes one token or is
refused with 429 (problem+json, Retry-After in whole seconds). The rate comes from the key's own
override, else its role's, else the default. The limiter is shared by every request thread, so
one lock guards it; it tracks at most `keys_max` buckets and evicts the least recently used (an
evicted key simply starts again with a full bucket, which only ever errs towards allowing).

Configuration: `RateLimits(...)` in code, or LENDSTACK_API_RATE_LIMITS="partner=50:100,k_ab12=200:400"
(role or key id = rate per second : burst)."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from lendstack.api.permissions import ADMIN, AUDITOR, COLLECTIONS, CREDIT, PARTNER, RISK
from lendstack.api.problems import problem_response

ENV = "LENDSTACK_API_RATE_LIMITS"
KEYS_MAX_DEFAULT = 10_000
RATE_PER_S_MAX = 1_000_000.0
BURST_MAX = 1_000_000
CONFIG_ENTRIES_MAX = 1_000


class RateLimitConfigError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


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


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int  # 0 when allowed
    remaining: int  # whole tokens left after this request


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
            # A clock that steps back (it should not: monotonic) must not drain or overfill the bucket.
            elapsed_s = max(0.0, now - bucket.updated_s)
            bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed_s * rate.rate_per_s)
            bucket.updated_s = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                assert 0.0 <= bucket.tokens <= rate.burst
                return Verdict(True, 0, int(bucket.tokens))
            wait_s = (1.0 - bucket.tokens) / rate.rate_per_s
            return Verdict(False, max(1, math.ceil(wait_s)), 0)

    def _bucket(self, key_id: str, rate: Rate, now: float) -> _Bucket:
        bucket = self._buckets.get(key_id)
        if bucket is not None:
            self._buckets.move_to_end(key_id)
            return bucket
        while len(self._buckets) >= self.limits.keys_max:  # bounded: runs at most once per new key
            self._buckets.popitem(last=False)
        bucket = self._buckets[key_id] = _Bucket(float(rate.burst), now)
        return bucket


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
        rate = self.limiter.limits.rate_of(key_id, str(getattr(principal, "role", "")))
        response = problem_response(
            429, "rate-limited", f"over {rate.rate_per_s:g} requests/s (burst {rate.burst}) for this key; "
            f"retry after {verdict.retry_after_s} s", "Authorization",
            {"Retry-After": str(verdict.retry_after_s)}, title="Too many requests",
            retry_after_s=verdict.retry_after_s)
        await response(scope, receive, send)
