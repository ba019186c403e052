"""Logging in and out, the language switch, and the entry redirects ("/" → "/console")."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.services.staff import SESSION_ABSOLUTE, LoginThrottled, end_session, login, resolve_session
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
    return bool(getattr(request.app.state, "secure_cookies", False))


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


@router.get("/console")
def console_home(request: Request) -> RedirectResponse:
    paths = {str(getattr(route, "path", "")) for route in request.app.router.routes}
    home = "/console/dashboard" if "/console/dashboard" in paths else "/console/applications"
    return RedirectResponse(home, status_code=303)


def _login_page(request: Request, *, error_key: str = "", username: str = "", next_path: str = "/console",
                status_code: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", {"error_key": error_key, "username": username,
                                              "next_path": safe_next(next_path), "login_csrf": token},
                      status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request),
                        path="/login")
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/console") -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and await run_in_threadpool(resolve_session, engine_of(request), token) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=next)


@router.post("/login")
async def login_submit(request: Request, username: Annotated[str, Form(max_length=FIELD_LENGTH_MAX)] = "",
                       password: Annotated[str, Form(max_length=FIELD_LENGTH_MAX)] = "",
                       csrf_token: Annotated[str, Form(max_length=FIELD_LENGTH_MAX)] = "",
                       next: Annotated[str, Form(max_length=FIELD_LENGTH_MAX)] = "/console") -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return _login_page(request, error_key="login.error_expired_form", username=username, next_path=next,
                           status_code=403)
    if not username or not password:
        return _login_page(request, error_key="login.error_missing", username=username, next_path=next,
                           status_code=422)
    engine = engine_of(request)
    try:
        found = await run_in_threadpool(login, engine, username, password, client=client_of(request))
    except LoginThrottled:
        return _login_page(request, error_key="login.error_throttled", username=username, next_path=next,
                           status_code=429)
    if found is None:
        return _login_page(request, error_key="login.error_bad", username=username, next_path=next,
                           status_code=401)
    _user, token = found
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_ABSOLUTE.total_seconds()), httponly=True,
                        samesite="lax", secure=secure_cookies(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


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
