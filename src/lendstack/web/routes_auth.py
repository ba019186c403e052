"""Logging in and out, the language switch, and the entry redirects ("/" → "/console")."""

from __future__ import annotations

import hmac
import secrets
from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.api.ratelimit import ClientLimiter
from lendstack.services.staff import (
    SESSION_ABSOLUTE,
    LoginThrottled,
    audit_login,
    end_session,
    login,
    resolve_session,
)
from lendstack.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, client_of
from lendstack.web.lang import LANG_COOKIE, LANGUAGES
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
FIELD_LENGTH_MAX = 300


def safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no '//host'): the login form must not be an open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) <= 500:
        return target
    return "/console"


def secure_cookies(request: Request) -> bool:
    return bool(getattr(request.app.state, "secure_cookies", True))  # Secure unless the site opted out (site.py)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


@router.get("/console")
def console_home(request: Request) -> RedirectResponse:
    paths = {str(getattr(route, "path", "")) for route in request.app.router.routes}
    home = "/console/dashboard" if "/console/dashboard" in paths else "/console/applications"
    return RedirectResponse(home, status_code=303)


def _login_page(request: Request, *, error_key: str = "", username: str = "", next_path: str = "/console",
                status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", {"error_key": error_key, "username": username,
                                              "next_path": safe_next(next_path), "login_csrf": token},
                      status_code=status_code, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request),
                        path="/login")
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/console") -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and await run_in_threadpool(resolve_session, engine_of(request), token) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=next)


# POST /login runs OUTSIDE the SQLite request lock (api/app.py SELF_LOCKING): it touches the database
# only through the staff service's short steps, each under `db_lock`, and never while hashing. Every
# answer but a repeated 429 leaves one audit row (the service writes those of real attempts).


@router.post("/login")
async def login_submit(request: Request) -> Response:
    engine, client = engine_of(request), client_of(request)
    db_lock: AbstractContextManager[Any] | None = request.app.state.db_lock
    limiter: ClientLimiter = request.app.state.login_limiter
    form = await _login_form(request)
    username, next_path = form.get("username", ""), form.get("next", "/console")

    def refuse(status: int, error_key: str, headers: dict[str, str] | None = None) -> Response:
        return _login_page(request, error_key=error_key, username=username[:FIELD_LENGTH_MAX], next_path=next_path,
                           status_code=status, headers=headers)

    async def audit(status: int) -> None:
        await run_in_threadpool(lambda: audit_login(engine, username, status, client=client, db_lock=db_lock))

    # First, from memory: a flood is answered here with no hashing and no database work.
    verdict = limiter.take(client)
    if not verdict.allowed:
        if verdict.first_refused:
            await audit(429)
        await limiter.tarpit(verdict)  # a looping script waits here, costing nothing (ratelimit.py)
        return refuse(429, "login.error_throttled", {"Retry-After": str(verdict.retry_after_s)})
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("csrf_token", "").encode(), expected.encode()):
        await audit(403)
        return refuse(403, "login.error_expired_form")
    if form.get(_TOO_LONG) or not username or not form.get("password"):
        await audit(422)
        return refuse(422, "login.error_missing")
    try:
        found = await run_in_threadpool(lambda: login(engine, username, form["password"], client=client,
                                                      db_lock=db_lock))
    except LoginThrottled as exc:
        return refuse(429, "login.error_throttled", {"Retry-After": str(max(1, exc.retry_after_s))})
    if found is None:
        return refuse(401, "login.error_bad")
    _user, token = found
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_ABSOLUTE.total_seconds()), httponly=True,
                        samesite="lax", secure=secure_cookies(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


_LOGIN_FIELDS = ("username", "password", "csrf_token", "next")
_TOO_LONG = "\0too-long"  # a marker no form field can be named


async def _login_form(request: Request) -> dict[str, str]:
    """The form's text fields, parsed here rather than by FastAPI so that every outcome, a malformed
    or oversized form included, is answered and audited by this route. A field over
    FIELD_LENGTH_MAX characters marks the form (`_TOO_LONG`) instead of being cut."""
    try:
        form = await request.form(max_files=0, max_fields=len(_LOGIN_FIELDS) + 10)
    except HTTPException:  # malformed multipart: as if empty, i.e. refused as incomplete
        return {}
    fields: dict[str, str] = {}
    for name in _LOGIN_FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            fields[name] = value
            if len(value) > FIELD_LENGTH_MAX:
                fields[_TOO_LONG] = "1"
    return fields


@router.post("/logout")
async def logout(request: Request) -> Response:
    # The guard checked the session and the CSRF token and audits this POST.
    await run_in_threadpool(end_session, engine_of(request), request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{language}")
def switch_language(language: str, request: Request, next: str = "/console") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=LANG_COOKIE_MAX_AGE_S, samesite="lax",
                            secure=secure_cookies(request), path="/")
    return response
