"""The FastAPI app: routers under /v1, problem+json errors, API-key auth with one permission
matrix, rate limits per key, an audit trail of every state-changing call, a 64 KiB body limit.
OpenAPI at /v1/openapi.json, with every problem+json answer declared."""

from __future__ import annotations

import asyncio
import threading
import weakref
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from lendstack.api import (
    routes_applicants,
    routes_catalog,
    routes_loans,
    routes_models,
    routes_monitoring,
    routes_origination,
    routes_webhooks,
)
from lendstack.api.headers import SecurityHeaders
from lendstack.api.options import install_options
from lendstack.api.permissions import PUBLIC
from lendstack.api.problems import MEDIA_TYPE, BodyLimit, install_error_handlers
from lendstack.api.proxies import ClientAddress, TrustedProxies
from lendstack.api.ratelimit import LOGIN_LIMITS, REFUSAL_LIMITS, ClientLimiter, RateLimit, RateLimiter, RateLimits
from lendstack.api.security import install_security, refuse_outside
from lendstack.origination.parsing import SCHEMA_NAME as DOCUMENT_SCHEMA
from lendstack.origination.parsing import document_json_schemas
from lendstack.services.database import open_engine
from lendstack.services.models import default_registry_dir
from lendstack.services.staff import LOGIN_PATH

ROUTERS = (routes_catalog, routes_origination, routes_applicants, routes_loans, routes_models, routes_monitoring,
           routes_webhooks)


def create_app(engine: Engine | None = None, *, registry_dir: str | Path | None = None,
               rate_limits: RateLimits | RateLimiter | None = None,
               trusted_proxies: TrustedProxies | None = None) -> FastAPI:
    """The API over `engine` (default: LENDSTACK_DATABASE_URL, migrated by the caller).

    `rate_limits` defaults to the role defaults overridden by LENDSTACK_API_RATE_LIMITS; a ready
    RateLimiter (e.g. on a test clock) is used as it is. `trusted_proxies` defaults to
    LENDSTACK_TRUSTED_PROXIES (api/proxies.py). The limits per client address are
    app.state.refusal_limiter (401/403/413 of the API and the console) and app.state.login_limiter
    (POST /login), read per request: a test may replace them before its first request."""
    app = FastAPI(title="lendstack open API", version="1", openapi_url="/v1/openapi.json", docs_url="/v1/docs",
                  redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.engine = engine if engine is not None else open_engine(migrate=False)  # the caller migrates
    app.state.registry_dir = Path(registry_dir) if registry_dir is not None else default_registry_dir()
    app.state.rate_limiter = (rate_limits if isinstance(rate_limits, RateLimiter)
                              else RateLimiter(rate_limits or RateLimits.from_env()))
    app.state.refusal_limiter = ClientLimiter(REFUSAL_LIMITS)
    app.state.login_limiter = ClientLimiter(LOGIN_LIMITS)
    # SQLite: the one lock every request's database work goes through (OneAtATime); None elsewhere.
    app.state.db_lock = threading.Lock() if app.state.engine.dialect.name == "sqlite" else None
    proxies = trusted_proxies if trusted_proxies is not None else TrustedProxies.from_env()
    for module in ROUTERS:
        # The routes join the app's own table (not a nested include): the permission check and its
        # test see every route with its full template, e.g. "/v1/loans/{loan_id}".
        app.router.routes.extend(module.router.routes)
    install_error_handlers(app)
    # Middleware added later wraps what was added before: BodyLimit → (OneAtATime) → security →
    # RateLimit → routes, so the limiter sees the authenticated key, and an oversized body never
    # reaches either.
    install_options(app)  # innermost: OPTIONS answers, and every 405 lists all the path's methods
    app.add_middleware(RateLimit, limiter=app.state.rate_limiter)
    install_security(app, app.state.engine)
    if app.state.db_lock is not None:
        app.add_middleware(OneAtATime, lock=app.state.db_lock)
    # Its 413 is answered outside the audit middleware and OneAtATime: refuse_outside counts it
    # against the client's refusals and audits it, taking the lock around the write itself.
    app.add_middleware(BodyLimit, refuse=lambda scope, receive, send, response: refuse_outside(
        app, scope, receive, send, response))
    app.add_middleware(SecurityHeaders)  # outermost of ours: every answer, refusals too (api/headers.py)
    app.add_middleware(ClientAddress, proxies=proxies)  # before anything records or counts the client
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


# Routes that hold the SQLite lock only around their own database steps (see OneAtATime).
SELF_LOCKING = frozenset({("POST", LOGIN_PATH)})


class OneAtATime:
    """SQLite only: one request at a time through the database.

    SQLite has one writer, and every transaction here begins IMMEDIATE (reads too), so concurrent
    requests would wait inside SQLite's busy handler, which sleeps in growing steps (up to 100 ms)
    and lets an unlucky request starve for seconds. Queued here instead, each waits only for the
    requests ahead of it. Requests queue on an asyncio lock per event loop (first come, first
    served, no thread held while waiting: a blocked thread pool would starve the request that holds
    the lock), then take one threading lock shared by all loops (test clients run several).

    The routes in SELF_LOCKING are let through without it: they take the same threading lock
    themselves, from their worker thread, around each short database step (app.state.db_lock).
    That is the login: its argon2 verification costs tens of ms of CPU on purpose, and held under
    this lock a flood of login attempts queued every other request of the site behind its hashing
    (GET /v1/loans went from 4.8 ms to 628 ms median under 6 parallel loops of made-up usernames)."""

    def __init__(self, app: ASGIApp, lock: threading.Lock) -> None:
        self.app = app
        self.lock = lock
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in SELF_LOCKING:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop) or self._queues.setdefault(loop, asyncio.Lock())
        async with queue:
            held = [self.lock.acquire(blocking=False)]  # the usual case: one loop, so free

            def take() -> None:
                self.lock.acquire()
                held[0] = True

            try:
                if not held[0]:
                    # Not abandoned on cancel: a cancelled wait still ends here and releases below.
                    await anyio.to_thread.run_sync(take)
                await self.app(scope, receive, send)
            finally:
                if held[0]:
                    self.lock.release()


# --- the published contract ------------------------------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Problem", "description": "RFC 9457 problem details; `field` names the bad input.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
        "retry_after_s": {"type": "integer"},
    },
}
_DESCRIPTIONS = {400: "Malformed JSON body", 401: "Missing, unknown or revoked API key",
                 403: "The key's role may not call this", 404: "No such record (or not this partner's)",
                 409: "Idempotency-Key reused with another request, or a state conflict",
                 413: "Body over 64 KiB", 422: "Invalid input; `field` names it",
                 429: ("Over this key's rate limit, or too many refused calls (401, 403, 413) from this address; "
                       "Retry-After says when to try again"),
                 500: "A server fault (the registry could not be read, ...); it is audited and logged"}
_METHODS = ("get", "post", "put", "patch", "delete")


def _problem_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    statuses = [422] if operation.get("parameters") or "requestBody" in operation else []
    if (method.upper(), path) not in PUBLIC:
        # 500: a fault no handler turned into an answer is answered as a problem (api/security.py).
        statuses += [401, 403, 429, 500]
    if "{" in path:
        statuses.append(404)
    if method != "get":
        statuses += [400, 404, 409, 413]
    return sorted(set(statuses))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus what the middleware and handlers really answer: problem+json errors, bearer auth."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                         description="lendstack open API: money in integer minor units (`*_minor`).")
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer",
                                                "description": "Authorization: Bearer lsk_..."}}
    schema["security"] = [{"apiKey": []}]
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in _problem_statuses(method, path, operation):
                responses[str(status)] = {"description": _DESCRIPTIONS[status], "content": problem}
            if "429" in responses:
                responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                               "description": "seconds until a token is free"}}
    schemas = components["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):  # validation errors are problems, declared above
        schemas.pop(unused, None)
    _publish_application_document(schema)
    app.openapi_schema = schema
    return schema


def _publish_application_document(schema: dict[str, Any]) -> None:
    """POST /v1/applications reads its body itself (parse_application: one error naming the field,
    the same for the API, the CLI and the simulator); the contract still publishes the document's
    schema, so clients and schemathesis see every field and bound."""
    documents = document_json_schemas()
    schema["components"]["schemas"].update(documents)
    body = schema["paths"]["/v1/applications"]["post"]["requestBody"]
    body["content"]["application/json"]["schema"] = {"$ref": f"#/components/schemas/{DOCUMENT_SCHEMA}"}
