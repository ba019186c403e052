"""Authentication, the permission check and the audit trail, as one HTTP middleware.

It runs before routing resolves the body, so an unauthenticated or unauthorised call is refused
(401/403) before anything is parsed or written. Every state-changing call (any method but
GET/HEAD/OPTIONS), allowed or not, leaves an `api_audit` row: who, what, when, from where.

A route may write its audit row itself, in the same transaction as its change (`audit_in` then
`mark_audited`): the change and its audit row then commit together or not at all. Otherwise the
middleware writes it after the response, in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from sqlalchemy import Connection, Engine, insert
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lendstack.api.keys import PREFIX, KeyCache, Principal, authenticate, hash_token
from lendstack.api.permissions import PUBLIC, allowed, audited
from lendstack.api.problems import problem_response
from lendstack.store.tables_api import api_audit

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


async def _guard(engine: Engine, cache: KeyCache, request: Request, route: str | None) -> Response | Principal:
    if (request.method, request.url.path) in PUBLIC:
        return Principal("", "", "")
    token = _bearer(request)
    principal = _cached(cache, token)
    if principal is None and token:
        principal = await run_in_threadpool(authenticate, engine, token, cache)
    if principal is None:
        detail = "an API key is required (Authorization: Bearer lsk_...)" if not token else "unknown or revoked key"
        return problem_response(401, "unauthorized", detail, "Authorization", {"WWW-Authenticate": "Bearer"})
    if route is not None and not allowed(request.method, route, principal.role):
        return problem_response(403, "forbidden", f"role {principal.role!r} may not {request.method} {route}",
                                "Authorization")
    return principal


def _cached(cache: KeyCache, token: str) -> Principal | None:
    # A cache hit needs no database and no thread: answer it on the event loop.
    if not token.startswith(PREFIX):
        return None
    return cache.get(hash_token(token))


_AUDIT_INSERT = insert(api_audit)  # built once; each row goes in as parameters


def audit_in(connection: Connection, principal: Principal | None, request: Request, status: int) -> None:
    """Write the call's audit row on `connection` (in the caller's transaction)."""
    client = request.client.host if request.client else ""
    connection.execute(_AUDIT_INSERT, {
        "at": datetime.now(UTC), "key_id": principal.key_id if principal else "",
        "role": principal.role if principal else "", "partner_id": principal.partner_id if principal else "",
        "method": request.method, "path": request.url.path, "status": status, "client": client,
        "idempotency_key": request.headers.get("idempotency-key", "")[:200]})


def mark_audited(request: Request) -> None:
    """Call after the transaction that wrote the audit row (audit_in) committed."""
    request.state.audited = True


def _audit(engine: Engine, principal: Principal | None, request: Request, status: int) -> None:
    with engine.begin() as conn:
        audit_in(conn, principal, request, status)


def install_security(app: FastAPI, engine: Engine) -> None:
    cache = KeyCache()
    app.state.key_cache = cache
    app.add_middleware(Security, api=app, engine=engine, cache=cache)


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
        route = route_of(self.api, request)
        outcome = await _guard(self.engine, self.cache, request, route)
        principal = outcome if isinstance(outcome, Principal) else None
        must_audit = request.method not in READ_METHODS or audited(request.method, route)

        async def send_audited(message: Message) -> None:
            if message["type"] == "http.response.start" and must_audit and not scope["state"].get("audited"):
                scope["state"]["audited"] = True  # once, whatever follows
                await run_in_threadpool(_audit, self.engine, principal, request, int(message["status"]))
            await send(message)

        scope.setdefault("state", {})
        if principal is None:
            assert isinstance(outcome, Response)
            await outcome(scope, receive, send_audited)
            return
        scope["state"]["principal"] = principal
        await self.app(scope, receive, send_audited)


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    assert isinstance(principal, Principal), "the security middleware ran"
    return principal
