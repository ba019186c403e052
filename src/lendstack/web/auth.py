"""Who is asking: the console session's user and CSRF token, as the guard (web/guard.py) left them
on the request. Page modules use `current_user(request)` and never read cookies themselves."""

from __future__ import annotations

from starlette.requests import Request

from lendstack.services.staff import StaffSession, StaffUser

SESSION_COOKIE = "ls_session"
LOGIN_CSRF_COOKIE = "ls_login_csrf"  # double-submit token for the login form (there is no session yet)
CSRF_FIELD = "csrf_token"  # the hidden form field ...
CSRF_HEADER = "x-csrf-token"  # ... or this header (htmx sends it from <body hx-headers>)


def session_of(request: Request) -> StaffSession | None:
    found = request.scope.get("state", {}).get("staff_session")
    assert found is None or isinstance(found, StaffSession)
    return found


def optional_user(request: Request) -> StaffUser | None:
    session = session_of(request)
    return session.user if session is not None else None


def current_user(request: Request) -> StaffUser:
    """The logged-in staff user; the guard refused the request before any page ran if there is none."""
    user = optional_user(request)
    assert user is not None, "the console guard runs before every /console page"
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token for forms and htmx ('' on pages without a session, e.g. /login)."""
    token = request.scope.get("state", {}).get("csrf_token", "")
    assert isinstance(token, str)
    return token


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""
