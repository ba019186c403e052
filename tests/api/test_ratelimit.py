"""Rate limits per key: the token bucket under a fake clock (burst, refill, Retry-After, per-key and
per-role rates, bounded memory, thread safety), the config parser, and the middleware: 429
problem+json after authentication, nothing written by a refused call but its audit row."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from conftest import auth, keys_for
from lendstack.api.app import create_app
from lendstack.api.keys import authenticate
from lendstack.api.ratelimit import (
    ROLE_DEFAULTS,
    Rate,
    RateLimitConfigError,
    RateLimiter,
    RateLimits,
)
from lendstack.store.tables_api import api_audit


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def limiter(rate: Rate, keys_max: int = 100) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(RateLimits(by_role={"partner": rate}, keys_max=keys_max), clock), clock


def test_burst_then_refused_with_retry_after() -> None:
    bucket, _clock = limiter(Rate(2.0, 5))
    verdicts = [bucket.take("k1", "partner") for _ in range(6)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    assert [v.remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    assert verdicts[5].retry_after_s == 1  # one token at 2/s comes in 0.5 s: rounded up to whole seconds


def test_refill_at_the_rate_and_never_above_burst() -> None:
    bucket, clock = limiter(Rate(10.0, 3))
    assert all(bucket.take("k1", "partner").allowed for _ in range(3))
    assert not bucket.take("k1", "partner").allowed
    clock.advance(0.1)  # exactly one token
    assert bucket.take("k1", "partner").allowed and not bucket.take("k1", "partner").allowed
    clock.advance(3600)  # an hour idle refills to the burst, no more
    assert sum(bucket.take("k1", "partner").allowed for _ in range(10)) == 3


def test_slow_rate_retry_after_is_the_wait() -> None:
    bucket, clock = limiter(Rate(0.1, 1))  # one request per 10 s
    assert bucket.take("k1", "partner").allowed
    refused = bucket.take("k1", "partner")
    assert not refused.allowed and refused.retry_after_s == 10
    clock.advance(9.9)
    assert not bucket.take("k1", "partner").allowed
    clock.advance(0.1)
    assert bucket.take("k1", "partner").allowed


def test_keys_are_independent_and_per_key_overrides_role() -> None:
    clock = FakeClock()
    limits = RateLimits(by_role={"partner": Rate(1.0, 2), "admin": Rate(1.0, 4)}, by_key={"vip": Rate(1.0, 10)})
    bucket = RateLimiter(limits, clock)
    assert sum(bucket.take("a", "partner").allowed for _ in range(20)) == 2
    assert sum(bucket.take("b", "partner").allowed for _ in range(20)) == 2  # a's use does not drain b
    assert sum(bucket.take("vip", "partner").allowed for _ in range(20)) == 10
    assert sum(bucket.take("s", "admin").allowed for _ in range(20)) == 4
    assert sum(bucket.take("x", "unknown_role").allowed for _ in range(100)) == limits.default.burst


def test_memory_is_bounded_and_the_least_recent_key_goes_first() -> None:
    bucket, _clock = limiter(Rate(1.0, 2), keys_max=3)
    for key in ("a", "b", "c"):
        bucket.take(key, "partner")
    bucket.take("a", "partner")  # a is now the most recent; b the oldest
    bucket.take("d", "partner")
    assert len(bucket) == 3
    assert not bucket.take("a", "partner").allowed  # a kept its (empty) bucket
    assert bucket.take("b", "partner").allowed  # b was evicted: it starts full again
    for i in range(1000):
        bucket.take(f"k{i}", "partner")
    assert len(bucket) == 3


def test_clock_stepping_back_neither_drains_nor_overfills() -> None:
    bucket, clock = limiter(Rate(1.0, 2))
    assert bucket.take("k", "partner").allowed
    clock.advance(-500)
    assert bucket.take("k", "partner").allowed and not bucket.take("k", "partner").allowed


def test_thread_safe_exactly_burst_allowed() -> None:
    bucket, _clock = limiter(Rate(1.0, 500))  # the fake clock stands still: no refill during the race
    allowed: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = sum(bucket.take("shared", "partner").allowed for _ in range(200))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.01, 1000), burst=st.integers(1, 50),
       steps=st.lists(st.floats(0, 5), min_size=1, max_size=60))
def test_never_more_than_burst_plus_refill(rate: float, burst: int, steps: list[float]) -> None:
    """Invariant: over any run, allowed <= burst + rate x elapsed (a bucket cannot mint tokens)."""
    bucket, clock = limiter(Rate(rate, burst))
    allowed = 0
    for step in steps:
        clock.advance(step)
        allowed += sum(bucket.take("k", "partner").allowed for _ in range(3))
    assert allowed <= burst + rate * sum(steps) + 1e-6


def test_config_from_env_and_bad_config_names_the_field() -> None:
    limits = RateLimits.from_env("partner=5:10, k_abc=200:400 ,admin=1.5:3")
    assert limits.rate_of("k_zzz", "partner") == Rate(5.0, 10)
    assert limits.rate_of("k_abc", "partner") == Rate(200.0, 400)
    assert limits.rate_of("k_s", "admin") == Rate(1.5, 3)
    assert RateLimits.from_env("").rate_of("k", "partner") == ROLE_DEFAULTS["partner"] == Rate(50.0, 100)
    for bad in ("partner", "partner=5", "partner=x:1", "partner=0:10", "partner=5:0", "=5:1", "partner=nan:3"):
        with pytest.raises(RateLimitConfigError) as caught:
            RateLimits.from_env(bad)
        assert caught.value.field == "LENDSTACK_API_RATE_LIMITS", bad
    with pytest.raises(RateLimitConfigError, match="burst"):
        Rate(1.0, 0)
    with pytest.raises(RateLimitConfigError, match="keys_max"):
        RateLimits(keys_max=0)


# --- through the app --------------------------------------------------------------------------------


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = ("applications", "decisions", "api_idempotency", "journal_entries", "outbox")
        counts = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in tables}
        counts["audit"] = int(conn.execute(select(func.count()).select_from(api_audit)).scalar_one())
    return counts


def test_middleware_refuses_with_429_problem_and_writes_nothing(sqlite_engine: Engine, registry_dir: Path,
                                                                documents: list[dict[str, Any]]) -> None:
    tokens = keys_for(sqlite_engine)
    partner = authenticate(sqlite_engine, tokens["partner"])
    assert partner is not None
    clock = FakeClock()
    limits = RateLimits(by_role={"partner": Rate(1.0, 2), "admin": Rate(100.0, 100)},
                        by_key={partner.key_id: Rate(0.5, 1)})
    app = create_app(sqlite_engine, registry_dir=registry_dir, rate_limits=RateLimiter(limits, clock))
    with TestClient(app) as client:
        first = client.post("/v1/applications", json=documents[0], headers=auth(tokens["partner"], "rl-1"))
        assert first.status_code == 201, first.text
        before = _counts(sqlite_engine)
        refused = client.post("/v1/applications", json=documents[1], headers=auth(tokens["partner"], "rl-2"))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "2"  # one token at 0.5/s
        assert refused.json()["status"] == 429 and refused.json()["field"] == "Authorization"
        after = _counts(sqlite_engine)
        assert after == {**before, "audit": before["audit"] + 1}  # only the audit row of the refused POST
        # Another key (another partner, same role) is not affected; the role's rate applies to it.
        assert client.get("/v1/applications", headers=auth(tokens["partner2"])).status_code == 200
        assert client.get("/v1/applications", headers=auth(tokens["partner2"])).status_code == 200
        assert client.get("/v1/applications", headers=auth(tokens["partner2"])).status_code == 429
        clock.advance(2.0)
        again = client.post("/v1/applications", json=documents[1], headers=auth(tokens["partner"], "rl-2"))
        assert again.status_code == 201, again.text
        # Unauthenticated calls are refused (401) before the limiter; the public contract is never limited.
        assert client.get("/v1/loans").status_code == 401
        assert all(client.get("/v1/openapi.json").status_code == 200 for _ in range(5))
