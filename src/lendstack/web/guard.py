"""The console's guard, one ASGI middleware in front of every /console route (and /logout):

1. session: the `ls_session` cookie must name a live session (idle 30 min, absolute 12 h); else a
   page is redirected to /login and an htmx/JSON call gets 401 problem+json;
2. permission: THE matrix (lendstack.api.permissions.MATRIX) decides (method, route template, role);
   deny by default → 403;
3. CSRF: every non-GET request carries the session's token (form field `csrf_token` or header
   X-CSRF-Token, compared in constant time) → else 403 problem+json;
4. audit: every non-GET request and every read of personal data, allowed, refused or failed, leaves
   exactly one api_audit row (key_id "user:<name>"), committed before the response starts.

All checks run before the route sees the request, so a refused request writes nothing but its
audit row. Refusals without a session are counted per client address (app.state.refusal_limiter,
as in the API): a client refused too often gets 429 from memory, before any session lookup, and
only the first 429 of each run of them is audited."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lendstack.api.permissions import allowed, audited
from lendstack.api.problems import BODY_LIMIT_BYTES, problem_response
from lendstack.api.ratelimit import ClientLimiter, Verdict
from lendstack.api.security import Outcome, client_host, must_audit, route_of
from lendstack.services.staff import StaffSession, audit_request, csrf_token_for, resolve_session
from lendstack.web.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONSOLE_PREFIX = "/console"


def guarded(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/") or path == "/logout"


def wants_fragment(request: Request) -> bool:
    """htmx or a JSON client: answer with a status and problem+json, not a page or a redirect."""
    accept = request.headers.get("accept", "")
    return request.headers.get("hx-request") == "true" or ("application/json" in accept and "text/html" not in accept)


class ConsoleGuard:
    def __init__(self, app: ASGIApp, site: FastAPI, engine: Engine) -> None:
        self.app, self.site, self.engine = app, site, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        token = request.cookies.get(SESSION_COOKIE, "")
        if token:
            early = self._limiter.check(client_host(scope))  # before the session lookup (database work)
            if not early.allowed:
                await self._limiter.tarpit(early)
                await self._answer(request, Outcome(None, _throttled(request, early), early.first_refused), None,
                                   scope, receive, send)
                return
        session = await run_in_threadpool(resolve_session, self.engine, token) if token else None
        if session is None:
            await self._refuse(request, _unauthenticated(request), None, scope, receive, send)
            return
        scope.setdefault("state", {}).update(staff_session=session, csrf_token=csrf_token_for(token))
        method = "GET" if request.method == "HEAD" else request.method
        route = route_of(self.site, request)
        if route is not None and not allowed(method, route, session.user.role):
            await self._refuse(request, _forbidden(request, route, session), session, scope, receive, send)
            return
        if request.method in READ_METHODS:
            if audited(method, route):  # a read of personal data: who read whose record is kept
                await self._read_audited(request, session, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        await self._change(request, token, session, scope, receive, send)

    async def _read_audited(self, request: Request, session: StaffSession, scope: Scope, receive: Receive,
                            send: Send) -> None:
        await self._audited(request, session, scope, receive, send)

    async def _audited(self, request: Request, session: StaffSession, scope: Scope, receive: Receive,
                       send: Send) -> None:
        """Run the route; its audit row is committed when the response starts, BEFORE any of it is sent:
        no page of personal data leaves, and no success is shown, without its audit row."""
        audited_once: list[bool] = []

        async def audit_then_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not audited_once:
                audited_once.append(True)
                await run_in_threadpool(self._audit, request, session, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, audit_then_send)
        finally:
            if not audited_once:  # the route raised before answering: the server error is audited too
                await run_in_threadpool(self._audit, request, session, 500)

    async def _change(self, request: Request, token: str, session: StaffSession, scope: Scope, receive: Receive,
                      send: Send) -> None:
        body = await request.body()
        if len(body) > BODY_LIMIT_BYTES:
            refused = problem_response(413, "payload-too-large", f"the body is over {BODY_LIMIT_BYTES} bytes", "body")
            await self._refuse(request, refused, session, scope, receive, send)
            return
        supplied = request.headers.get(CSRF_HEADER) or await _form_token(scope, body)
        if not hmac.compare_digest(supplied.encode(), csrf_token_for(token).encode()):
            detail = "missing or wrong CSRF token (form field csrf_token or header X-CSRF-Token)"
            refused = problem_response(403, "csrf", detail, CSRF_FIELD)
            await self._refuse(request, refused, session, scope, receive, send)
            return
        await self._audited(request, session, scope, _replay(body, receive), send)

    @property
    def _limiter(self) -> ClientLimiter:
        limiter = self.site.state.refusal_limiter  # read per request: tests may replace it
        assert isinstance(limiter, ClientLimiter)
        return limiter

    async def _refuse(self, request: Request, response: Response, session: StaffSession | None, scope: Scope,
                      receive: Receive, send: Send) -> None:
        """A refusal. Without a session it is counted against the client's address as in the API (past
        its budget: 429 instead). With one, the person is known and the refusal audited under their
        name: an address shared by a whole office is not throttled for one person's clicks."""
        verdict = self._limiter.take(client_host(scope)) if session is None else None
        if verdict is not None and not verdict.allowed:
            await self._limiter.tarpit(verdict)
        outcome = (Outcome(None, response) if verdict is None or verdict.allowed
                   else Outcome(None, _throttled(request, verdict), verdict.first_refused))
        await self._answer(request, outcome, session, scope, receive, send)

    async def _answer(self, request: Request, outcome: Outcome, session: StaffSession | None, scope: Scope,
                      receive: Receive, send: Send) -> None:
        answer = outcome.refusal
        assert answer is not None
        if outcome.audit and must_audit(self.site, request):  # a refused read of personal data too
            await run_in_threadpool(self._audit, request, session, answer.status_code)
        await answer(scope, receive, send)

    def _audit(self, request: Request, session: StaffSession | None, status: int) -> None:
        user = session.user if session is not None else None
        audit_request(self.engine, actor=user.actor if user else "", role=user.role if user else "",
                      method=request.method, path=request.url.path, status=status,
                      client=request.client.host if request.client else "",
                      idempotency_key=request.headers.get("idempotency-key", ""))


def _unauthenticated(request: Request) -> Response:
    if wants_fragment(request):
        response: Response = problem_response(401, "unauthorized", "log in to the console (the session is missing "
                                              "or expired)", SESSION_COOKIE, {"HX-Redirect": "/login"})
    else:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _throttled(request: Request, verdict: Verdict) -> Response:
    """429: problem+json for htmx and JSON clients, a page (English or 中文) for a browser."""
    headers = {"Retry-After": str(verdict.retry_after_s)}
    if wants_fragment(request):
        detail = f"too many refused calls from this address; retry after {verdict.retry_after_s} s"
        return problem_response(429, "too-many-refusals", detail, SESSION_COOKIE, headers,
                                retry_after_s=verdict.retry_after_s)
    from lendstack.web.render import render  # here: render imports the permission matrix too

    return render(request, "error.html", {"status": 429, "detail_key": "error.throttled"}, status_code=429,
                  headers=headers)


def _forbidden(request: Request, route: str, session: StaffSession) -> Response:
    detail = f"role {session.user.role!r} may not {request.method} {route}"
    if request.method in READ_METHODS and not wants_fragment(request):
        from lendstack.web.render import render  # here: render imports the permission matrix too

        return render(request, "error.html", {"status": 403, "detail_key": "error.forbidden"}, status_code=403)
    refused: JSONResponse = problem_response(403, "forbidden", detail, "role")
    return refused


async def _form_token(scope: Scope, body: bytes) -> str:
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    form = await Request(scope, _replay(body, None)).form()
    value: Any = form.get(CSRF_FIELD, "")
    return value if isinstance(value, str) else ""


def _replay(body: bytes, then: Receive | None) -> Receive:
    """The body once more, then the real channel (which only has the disconnect left to say)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
