"""Authentication, the permission check and the audit trail, as one HTTP middleware.

It runs before routing resolves the body, so an unauthenticated or unauthorised call is refused
(401/403) before anything is parsed or written. Every call that must be audited (any method but
GET/HEAD/OPTIONS, and reads of personal data), allowed, refused or failed, leaves exactly one
`api_audit` row: who, what, when, from where, with the status the client got.

A route may write its audit row itself, in the same transaction as its change (`audit_in` then
`mark_audited`): the change and its audit row then commit together or not at all. Otherwise the
middleware writes it when the response starts. A fault no handler answered is answered here as a
problem+json 500, audited (ServerErrorMiddleware, outside us, would send it unaudited), then re-raised
so the server logs it.

Refusals are counted per client address (app.state.refusal_limiter, api/ratelimit.py): a client
that keeps being refused gets 429 from memory, before any key lookup, and only the first 429 of each
run of them is audited, so a flood cannot choose how many rows we write."""

from __future__ import annotations

import logging
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lendstack.api.keys import PREFIX, KeyCache, Principal, authenticate, hash_token
from lendstack.api.permissions import PUBLIC, allowed, audited
from lendstack.api.problems import problem_response
from lendstack.api.ratelimit import ClientLimiter, RateLimiter, Verdict, key_rate_limited
from lendstack.services.api_access import audit_call
from lendstack.services.staff import record_action

_log = logging.getLogger("lendstack.api")

API_PREFIX = "/v1"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_of(app: FastAPI, request: Request) -> str | None:
    """The route template ('/v1/loans/{loan_id}') this request matches, or None."""
    for route in app.router.routes:
        match, _child = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", ""))
    return None


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client_host(scope: Scope) -> str:
    """The caller's address (the peer, or what a trusted proxy said: api/proxies.py)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


def too_many_refusals(verdict: Verdict) -> Response:
    return problem_response(429, "too-many-refusals", "too many refused calls from this address; retry after "
                            f"{verdict.retry_after_s} s", "Authorization", {"Retry-After": str(verdict.retry_after_s)},
                            title="Too many requests", retry_after_s=verdict.retry_after_s)


@dataclass(frozen=True, slots=True)
class Outcome:
    principal: Principal | None  # who, when known (a 403 knows; a 401 does not)
    refusal: Response | None = None  # None: the call goes on to the route
    audit: bool = True  # False: a repeated 429 of the refusal limit (ClientLimiter.first_refused)


async def refused(limiter: ClientLimiter, client: str, refusal: Response) -> Outcome:
    """A refusal of an unidentified caller, counted against its address: within the budget, the
    refusal itself; past it, 429 (audited only if it starts a run of them), after the tarpit."""
    verdict = limiter.take(client)
    if verdict.allowed:
        return Outcome(None, refusal)
    await limiter.tarpit(verdict)
    return Outcome(None, too_many_refusals(verdict), verdict.first_refused)


async def _guard(api: FastAPI, engine: Engine, cache: KeyCache, request: Request, route: str | None) -> Outcome:
    if (request.method, request.url.path) in PUBLIC:
        return Outcome(Principal("", "", ""))
    limiter: ClientLimiter = api.state.refusal_limiter
    client = client_host(request.scope)
    token = _bearer(request)
    principal = _cached(cache, token)
    if principal is None:
        # Before the key lookup: a client refused too often costs no database work at all.
        early = limiter.check(client)
        if not early.allowed:
            await limiter.tarpit(early)
            return Outcome(None, too_many_refusals(early), early.first_refused)
        if token:
            principal = await run_in_threadpool(authenticate, engine, token, cache)
    if principal is None:
        detail = "an API key is required (Authorization: Bearer lsk_...)" if not token else "unknown or revoked key"
        return await refused(limiter, client, problem_response(401, "unauthorized", detail, "Authorization",
                                                         {"WWW-Authenticate": "Bearer"}))
    if route is not None and not allowed(request.method, route, principal.role):
        # The caller is known: its refusals are counted against its key's own rate limit (a partner
        # behind a shared address must not be throttled for another's mistakes), past it 429 as usual.
        rate_limiter: RateLimiter = api.state.rate_limiter
        verdict = rate_limiter.take(principal.key_id, principal.role)
        if not verdict.allowed:
            return Outcome(principal, key_rate_limited(rate_limiter, principal.key_id, principal.role, verdict))
        return Outcome(principal, problem_response(
            403, "forbidden", f"role {principal.role!r} may not {request.method} {route}", "Authorization"))
    return Outcome(principal)


def _cached(cache: KeyCache, token: str) -> Principal | None:
    # A cache hit needs no database and no thread: answer it on the event loop.
    if not token.startswith(PREFIX):
        return None
    return cache.get(hash_token(token))


def must_audit(api: FastAPI, request: Request, route: str | None = None) -> bool:
    """Every change (allowed or refused), and every read of personal data (api/permissions.py)."""
    if request.method not in READ_METHODS:
        return True
    return audited(request.method, route if route is not None else route_of(api, request))


def audit_in(connection: Connection, principal: Principal | None, request: Request, status: int) -> None:
    """Write the call's audit row on `connection` (in the caller's transaction). The texts are
    bounded where every audit row is written: services/staff.py record_action."""
    record_action(connection, actor=principal.key_id if principal else "", role=principal.role if principal else "",
                  partner_id=principal.partner_id if principal else "", method=request.method,
                  path=request.url.path, status=status, client=client_host(request.scope),
                  idempotency_key=request.headers.get("idempotency-key", ""), at=datetime.now(UTC))


def mark_audited(request: Request) -> None:
    """Call after the transaction that wrote the audit row (audit_in) committed."""
    request.state.audited = True


def _audit(engine: Engine, principal: Principal | None, request: Request, status: int) -> None:
    """The call's audit row in a transaction of its own (services/api_access.py)."""
    audit_call(engine, lambda connection: audit_in(connection, principal, request, status))


def install_security(app: FastAPI, engine: Engine) -> None:
    cache = KeyCache()
    app.state.key_cache = cache
    app.add_middleware(Security, api=app, engine=engine, cache=cache)


def server_fault() -> Response:
    """A 500 for a bug: an error id in the answer and in the log beside the traceback (called while
    the exception is being handled), so a partner's report finds its log line."""
    error_id = secrets.token_hex(6)
    _log.error("server fault %s", error_id, exc_info=True)
    return problem_response(500, "server-fault", f"the server failed on this call; it is logged as {error_id}", None,
                            error_id=error_id)


class Security:
    """Pure ASGI (not BaseHTTPMiddleware, whose task and stream per request cost ~0.4 ms on the
    decision endpoint): authenticate, check the matrix, run the route, audit.

    The audit row of a route that did not write its own is written when the response starts and
    BEFORE it is sent: a client never sees a success whose audit row could still fail."""

    def __init__(self, app: ASGIApp, api: FastAPI, engine: Engine, cache: KeyCache) -> None:
        self.app, self.api, self.engine, self.cache = app, api, engine, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            # Not the partner API (e.g. the staff console, which has its own session guard
            # over the same permission matrix): API keys do not apply there.
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        started: list[bool] = []
        try:
            route = route_of(self.api, request)
            outcome = await _guard(self.api, self.engine, self.cache, request, route)
            audit = outcome.audit and must_audit(self.api, request, route)

            async def send_audited(message: Message) -> None:
                if message["type"] == "http.response.start":
                    if audit and not state.get("audited"):
                        state["audited"] = True  # once, whatever follows (a failed write too)
                        await run_in_threadpool(_audit, self.engine, outcome.principal, request,
                                                int(message["status"]))
                    started.append(True)
                await send(message)

            if outcome.refusal is not None:
                await outcome.refusal(scope, receive, send_audited)
                return
            state["principal"] = outcome.principal
            await self.app(scope, receive, send_audited)
        except Exception:
            if started:
                raise  # the answer is on its way, with its audit row: only the log can tell more
            await self._fault(request, state, receive, send)
            raise

    async def _fault(self, request: Request, state: dict[str, object], receive: Receive, send: Send) -> None:
        """A 500 for a fault nothing answered, with its audit row unless one was written (a route's
        own, committed before it failed; or a write that itself failed)."""
        if not state.get("audited") and must_audit(self.api, request):
            state["audited"] = True
            principal = state.get("principal")
            await run_in_threadpool(_audit, self.engine, principal if isinstance(principal, Principal) else None,
                                    request, 500)
        await server_fault()(request.scope, receive, send)


async def refuse_outside(api: FastAPI, scope: Scope, receive: Receive, send: Send, refusal: Response) -> None:
    """A refusal answered before the request reaches this middleware and OneAtATime (BodyLimit's
    413, for the API and the console alike): counted against the client, audited if it must be,
    the SQLite lock taken around the write (it is not held out there)."""
    request = Request(scope)
    outcome = await refused(api.state.refusal_limiter, client_host(scope), refusal)
    answer = outcome.refusal
    assert answer is not None
    if outcome.audit and must_audit(api, request):
        lock = api.state.db_lock

        def write() -> None:
            with lock if lock is not None else nullcontext():
                _audit(api.state.engine, None, request, answer.status_code)

        await run_in_threadpool(write)
    await answer(scope, receive, send)


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    assert isinstance(principal, Principal), "the security middleware ran"
    return principal
