"""Unauthenticated and refused calls cannot flood the server or the audit trail (issue 12 §1, §3):
refusals are counted per client address (and over all addresses), answered 429 from memory before
any key or session lookup; every audited text is bounded in one place; the client address is the
real peer unless the peer is a configured proxy."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from conftest import keys_for
from lendstack.api import security
from lendstack.api.app import create_app
from lendstack.api.proxies import ENV as PROXIES_ENV
from lendstack.api.proxies import TrustedProxies, TrustedProxiesError
from lendstack.api.ratelimit import (
    REFUSAL_LIMITS,
    ClientLimiter,
    ClientLimits,
    Rate,
    RateLimiter,
    RateLimits,
    client_key,
)
from lendstack.services import staff
from lendstack.store.tables_api import api_audit
from lendstack.web import create_site
from lendstack.web import guard as console_guard
from lendstack.web.auth import SESSION_COOKIE


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def audit_rows(engine: Engine) -> list[Any]:
    a = api_audit.c
    with engine.connect() as conn:
        return list(conn.execute(select(a.key_id, a.role, a.partner_id, a.method, a.path, a.status, a.client,
                                        a.idempotency_key).order_by(a.id)))


def audit_bytes(engine: Engine) -> int:
    return sum(len(str(value).encode()) for row in audit_rows(engine) for value in row)


# --------------------------------------------------------------------------- the limiter


def test_client_limiter_per_client_overall_and_first_refusal_only() -> None:
    clock = FakeClock()
    limiter = ClientLimiter(ClientLimits(per_client=Rate(1.0, 2), overall=Rate(1.0, 3)), clock)
    a = [limiter.take("192.0.2.1") for _ in range(4)]
    assert [v.allowed for v in a] == [True, True, False, False]
    assert [v.first_refused for v in a[2:]] == [True, False]  # one audited refusal per run of them
    assert a[2].retry_after_s == 1
    assert limiter.take("192.0.2.2").allowed  # another client: its own bucket, the overall's last token
    overall = limiter.take("192.0.2.3")
    assert not overall.allowed and overall.first_refused  # the overall bucket is empty
    assert not limiter.take("192.0.2.4").first_refused  # the same run of overall refusals
    assert limiter.check("192.0.2.5").allowed  # check() looks at the client's bucket only
    clock.now_s += 1.0
    assert limiter.take("192.0.2.1").allowed
    refused_again = limiter.take("192.0.2.1")
    assert not refused_again.allowed and refused_again.first_refused  # a new run after an allowed call


def test_tarpit_holds_a_refusal_for_its_retry_after_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        slept.append(delay_s)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    limiter = ClientLimiter(ClientLimits(per_client=Rate(0.1, 1), overall=Rate(1e6, 1_000_000), tarpit_s_max=5.0),
                            FakeClock())
    assert limiter.take("192.0.2.1").allowed
    refused = limiter.take("192.0.2.1")
    asyncio.run(limiter.tarpit(refused))
    assert refused.retry_after_s == 10 and slept == [5.0]  # its Retry-After, at most tarpit_s_max
    untarpitted = ClientLimiter(ClientLimits(per_client=Rate(0.1, 1), overall=Rate(1e6, 1_000_000)), FakeClock())
    untarpitted.take("x")
    asyncio.run(untarpitted.tarpit(untarpitted.take("x")))
    assert slept == [5.0]  # tarpit_s_max 0: answered at once


def test_client_limiter_memory_is_bounded() -> None:
    limiter = ClientLimiter(ClientLimits(per_client=Rate(1.0, 2), overall=Rate(1e6, 1_000_000), clients_max=10))
    for i in range(1000):
        limiter.take(str(ipaddress.ip_address(0x0A000000 + i)))
        assert len(limiter) <= 10


def test_client_key_counts_ipv6_by_its_64() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" and client_key("192.0.2.7") == "192.0.2.7"
    assert len(client_key("x" * 10_000)) <= 64


# --------------------------------------------------------------------------- the API


@pytest.fixture
def app(engine: Engine, registry_dir: Path) -> FastAPI:
    return create_app(engine, registry_dir=registry_dir)


def test_a_flood_of_huge_paths_writes_bounded_bytes(app: FastAPI, engine: Engine) -> None:
    # The defaults, time standing still, and no tarpit (it would hold each 429 for its Retry-After).
    app.state.refusal_limiter = ClientLimiter(replace(REFUSAL_LIMITS, tarpit_s_max=0.0), FakeClock())
    client = TestClient(app)
    path = "/v1/" + "a" * 60_000
    statuses = [client.post(path, json={}).status_code for _ in range(200)]
    burst = app.state.refusal_limiter.limits.per_client.burst
    assert statuses[:burst] == [401] * burst and set(statuses[burst:]) == {429}
    rows = audit_rows(engine)
    assert len(rows) == burst + 1  # the refusals let through, and the first 429 of the run
    assert all(len(row.path) <= staff.AUDIT_TEXT_CHARS_MAX["path"] for row in rows)
    assert audit_bytes(engine) <= len(rows) * 1_000  # was 12 MB for 200 such calls


def test_unauthenticated_flood_is_refused_before_any_key_lookup(app: FastAPI, engine: Engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []
    real = getattr(security, "authenticate")  # noqa: B009 (the name the middleware calls, patched below)

    def counting(engine_: Engine, token: str, cache: Any) -> Any:
        lookups.append(token)
        return real(engine_, token, cache)

    monkeypatch.setattr(security, "authenticate", counting)
    app.state.refusal_limiter = ClientLimiter(ClientLimits(per_client=Rate(0.001, 5), overall=Rate(1e6, 1_000_000)))
    client = TestClient(app)
    answers = [client.get("/v1/loans", headers={"Authorization": f"Bearer lsk_made_up_{i}"}) for i in range(20)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 15
    assert len(lookups) == 5  # the 15 refused calls cost no database work
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["field"] == "Authorization"
    # A real key from another address is served meanwhile.
    token = keys_for(engine)["admin"]
    assert TestClient(app, client=("192.0.2.50", 1)).get(
        "/v1/loans", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_refused_calls_of_a_key_count_against_its_own_rate_limit(engine: Engine, registry_dir: Path) -> None:
    limiter = RateLimiter(RateLimits(by_role={"partner": Rate(0.001, 4)}), FakeClock())
    app = create_app(engine, registry_dir=registry_dir, rate_limits=limiter)
    token = keys_for(engine)["partner"]
    client = TestClient(app)
    statuses = [client.post("/v1/keys/k_x/revoke", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(8)]
    assert statuses == [403] * 4 + [429] * 4
    assert [row.status for row in audit_rows(engine)] == statuses  # identified: each refusal is audited


def test_every_audited_text_is_bounded_in_one_place(app: FastAPI, engine: Engine) -> None:
    client = TestClient(app, client=("c" * 5_000, 1))
    client.post("/v1/" + "p" * 5_000, headers={"Idempotency-Key": "k" * 5_000, "Authorization": "Bearer x"})
    with engine.begin() as conn:
        staff.record_action(conn, actor="a" * 5_000, role="r" * 5_000, method="M" * 5_000, path="/" * 5_000,
                            status=200, client="c" * 5_000, idempotency_key="k" * 5_000, partner_id="p" * 5_000)
    rows = audit_rows(engine)
    assert len(rows) == 2
    for row in rows:
        for name, value in row._mapping.items():
            if name != "status":
                assert len(value) <= staff.AUDIT_TEXT_CHARS_MAX[name], name
    assert rows[1].key_id == "a" * staff.AUDIT_TEXT_CHARS_MAX["key_id"]


# --------------------------------------------------------------------------- the console


def test_console_refusals_without_a_session_are_throttled_before_the_session_lookup(
        engine: Engine, registry_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []
    real = getattr(console_guard, "resolve_session")  # noqa: B009 (the name the guard calls, patched below)

    def counting(engine_: Engine, token: str) -> Any:
        lookups.append(token)
        return real(engine_, token)

    monkeypatch.setattr(console_guard, "resolve_session", counting)
    site = create_site(engine, registry_dir=registry_dir, secure_cookies=False)
    site.state.refusal_limiter = ClientLimiter(ClientLimits(per_client=Rate(0.001, 3), overall=Rate(1e6, 1_000_000)))
    client = TestClient(site)
    client.cookies.set(SESSION_COOKIE, "forged")
    answers = [client.post("/console/loans/L1/repay", data={"amount": "1"}, headers={"HX-Request": "true"})
               for _ in range(10)]
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 7
    assert len(lookups) == 3
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert [row.status for row in audit_rows(engine)] == [401] * 3 + [429]
    page = client.get("/console/applications")  # a browser gets a page, in its language
    assert page.status_code == 429 and 'data-testid="error-detail"' in page.text


def test_a_session_is_not_throttled_for_its_own_refusals(engine: Engine, registry_dir: Path) -> None:
    site = create_site(engine, registry_dir=registry_dir, secure_cookies=False)
    site.state.refusal_limiter = ClientLimiter(ClientLimits(per_client=Rate(0.001, 2), overall=Rate(1e6, 1_000_000)))
    staff.create_user(engine, "aud", "correct horse battery", "auditor")
    user = staff.get_user(engine, "aud")
    assert user is not None
    client = TestClient(site)
    client.cookies.set(SESSION_COOKIE, staff.start_session(engine, user))
    statuses = {client.post("/console/loans/L1/repay", data={"amount": "1"}).status_code for _ in range(6)}
    assert statuses == {403}


# --------------------------------------------------------------------------- the client address


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(engine: Engine, registry_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROXIES_ENV, raising=False)
    local = TestClient(create_app(engine, registry_dir=registry_dir), client=("127.0.0.1", 5000))
    local.post("/v1/keys/k_x/revoke", headers={"X-Forwarded-For": "6.6.6.6"})
    monkeypatch.setenv(PROXIES_ENV, "10.0.0.0/8, 127.0.0.1")
    proxied = TestClient(create_app(engine, registry_dir=registry_dir), client=("127.0.0.1", 5000))
    proxied.post("/v1/keys/k_x/revoke", headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"})
    # What the client wrote left of the last untrusted hop is not believed.
    proxied.post("/v1/keys/k_x/revoke", headers={"X-Forwarded-For": "1.1.1.1, 7.7.7.7, 10.1.2.3"})
    assert [row.client for row in audit_rows(engine)] == ["127.0.0.1", "6.6.6.6", "7.7.7.7"]


def test_limits_count_the_real_peer_not_a_forged_header(app: FastAPI) -> None:
    app.state.refusal_limiter = ClientLimiter(ClientLimits(per_client=Rate(0.001, 3), overall=Rate(1e6, 1_000_000)))
    client = TestClient(app, client=("127.0.0.1", 5000))
    statuses = [client.post("/v1/loans/L1/repayments", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(6)]
    assert statuses == [401] * 3 + [429] * 3


def test_trusted_proxies_setting() -> None:
    proxies = TrustedProxies.parse("10.0.0.5, 2001:db8::/32")
    assert proxies.trusts("10.0.0.5") and proxies.trusts("2001:db8::1") and not proxies.trusts("10.0.0.6")
    assert proxies.client("10.0.0.5", "garbage, 2001:db8::7") == "2001:db8::7"  # the last good hop
    assert proxies.client("10.0.0.6", "1.2.3.4") == "10.0.0.6"  # not a proxy of ours: the peer
    assert TrustedProxies.parse("").networks == ()
    with pytest.raises(TrustedProxiesError) as caught:
        TrustedProxies.parse("10.0.0.5, localhost")
    assert caught.value.field == PROXIES_ENV and "localhost" in caught.value.message


def test_serve_runs_uvicorn_without_its_own_proxy_headers(engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from lendstack.cli import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.delenv(PROXIES_ENV, raising=False)
    serve.run_site(engine, "127.0.0.1", 8123, registry_dir=tmp_path)
    assert seen["proxy_headers"] is False  # uvicorn's default believes any 127.0.0.1 peer


def test_serve_refuses_a_wrong_trusted_proxies_setting(engine: Engine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from lendstack.cli import serve

    monkeypatch.setenv(PROXIES_ENV, "not-an-address")
    with pytest.raises(typer.Exit) as caught:
        serve.run_site(engine, "127.0.0.1", 8123, registry_dir=tmp_path)
    assert caught.value.exit_code == 2

