"""RFC 9457 problem+json for every error, and the request-size guard.

Each problem names the offending field (`field`, and `errors[]` for validation), so a client can
point its user at it. Domain errors carry `.field`; we map them here, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lendstack.errors import ErrorKind, LendstackError

MEDIA_TYPE = "application/problem+json"
BODY_LIMIT_BYTES = 64 * 1024
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Payload too large", 422: "Unprocessable content", 429: "Too many requests",
           500: "Internal server error"}
# The one table from an error's kind to its HTTP status and problem type (lendstack/errors.py).
# A class may name a more specific problem type with `code` (e.g. "idempotency-conflict").
KIND_STATUS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID: (422, "invalid"),
    ErrorKind.NOT_FOUND: (404, "not-found"),
    ErrorKind.CONFLICT: (409, "conflict"),
    ErrorKind.FORBIDDEN: (403, "forbidden"),
    ErrorKind.UNAVAILABLE: (503, "unavailable"),
    ErrorKind.RATE_LIMITED: (429, "rate-limited"),
}
# Fields a client sends as a header, not in the body: the problem names the header.
HEADER_FIELDS = {"idempotency_key": "Idempotency-Key"}


class Problem(Exception):
    """Raise from a route to answer with a problem+json body."""

    def __init__(self, status: int, slug: str, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.field, self.headers = status, slug, detail, field, headers


def problem_body(status: int, slug: str, detail: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if field is not None:
        body["field"] = field
    return body | extra


def problem_response(status: int, slug: str, detail: str, field: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, slug, detail, field, **extra), status_code=status,
                        media_type=MEDIA_TYPE, headers=headers)


def _dotted(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "amount_minor") → "amount_minor"; the header/query prefix stays: it tells where to look.
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] == "body" and len(parts) > 1 else parts)


async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "malformed-json", "the request body is not valid JSON", "body")
    items = [{"field": _dotted(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors]
    first = items[0] if items else {"field": "body", "message": "invalid"}
    return problem_response(422, "validation", f"{first['field']}: {first['message']}", first["field"],
                            errors=items)


async def _domain(_request: Request, exc: LendstackError) -> JSONResponse:
    """Every user error, by its kind: no status is derived from the wording of a message."""
    status, slug = KIND_STATUS[exc.kind]
    slug = exc.code or slug
    field = HEADER_FIELDS.get(exc.field, exc.field)
    if status == 422:
        return problem_response(status, slug, exc.message, field, errors=[{"field": field, "message": exc.message}])
    return problem_response(status, slug, exc.message, field)


async def _problem(_request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc.status, exc.slug, exc.detail, exc.field, exc.headers)


async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem_response(exc.status_code, "http", str(exc.detail), None, dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(LendstackError, _domain)  # type: ignore[arg-type]


# How a refusal made before the audit middleware is answered (api/security.py refuse_outside: counted
# per client and audited); by default it is simply sent.
RefuseHook = Callable[[Scope, Receive, Send, Response], Awaitable[None]]


async def _send_only(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    await response(scope, receive, send)


class BodyLimit:
    """Refuse bodies over BODY_LIMIT_BYTES with 413 before any route (or auth lookup) sees them.

    The body is read here, up to the limit, and replayed to the app: chunked uploads without a
    Content-Length cannot slip past. The 413 goes through `refuse`, so it is audited like any
    other refused change."""

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT_BYTES, refuse: RefuseHook = _send_only) -> None:
        self.app, self.limit, self.refuse = app, limit, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        body, too_big = await self._read(receive)
        if too_big:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return b"", True
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks), False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "payload-too-large", f"the body is over {self.limit} bytes", "body")
        await self.refuse(scope, receive, send, response)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
