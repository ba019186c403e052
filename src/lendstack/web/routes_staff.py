"""Staff management (admin only, by the permission matrix): the list of staff users with their status,
creating a user, disabling / enabling, setting a new password and lifting a login lock.

The guard has checked the role and the CSRF token and audits each POST; the service functions
(lendstack.services.staff) do the work, each in one transaction with its own audit row. A refused
command shows the page again with the message naming the field (422, or 404 for an unknown user)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.services.staff import (
    DISPLAY_NAME_LENGTH_MAX,
    PASSWORD_LENGTH_MAX,
    PASSWORD_LENGTH_MIN,
    STAFF_ROLES,
    StaffCommandResult,
    StaffError,
    StaffNotFound,
    StaffUser,
    create_user,
    disable_user,
    enable_user,
    set_password,
    staff_listing,
    unlock_user,
)
from lendstack.web.auth import client_of, current_user
from lendstack.web.forms import FormError, form_text
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
USERNAME_LENGTH_MAX = 64  # the service's pattern allows 32; longer is refused before any lookup
STAFF_PAGE = "/console/staff"

Command = Callable[..., StaffCommandResult]
COMMANDS: dict[str, tuple[Command, str]] = {  # path segment → (service function, flash key)
    "disable": (disable_user, "staff_disabled"),
    "enable": (enable_user, "staff_enabled"),
    "unlock": (unlock_user, "staff_unlocked"),
}


def _error(exc: StaffError | FormError) -> dict[str, str]:
    return {"field": exc.field, "message": exc.message}


def _staff_page(request: Request, *, error: dict[str, str] | None = None, values: dict[str, str] | None = None,
                target: str = "", status_code: int = 200) -> Response:
    users = [u.to_json() for u in staff_listing(engine_of(request))]
    return render(request, "staff.html", {
        "users": users, "roles": STAFF_ROLES, "error": error, "values": values or {}, "target": target,
        "password_min": PASSWORD_LENGTH_MIN, "password_max": PASSWORD_LENGTH_MAX,
        "display_name_max": DISPLAY_NAME_LENGTH_MAX}, status_code=status_code)


def _refused(request: Request, exc: StaffError | FormError, *, target: str = "",
             values: dict[str, str] | None = None) -> Response:
    status_code = 404 if isinstance(exc, StaffNotFound) else 422
    return _staff_page(request, error=_error(exc), values=values, target=target, status_code=status_code)


def _done(flash: str) -> Response:
    return RedirectResponse(f"{STAFF_PAGE}?flash={flash}", status_code=303)


@router.get(STAFF_PAGE)
def staff_page(request: Request) -> Response:
    return _staff_page(request)


@router.post(STAFF_PAGE)
async def staff_create(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    values: dict[str, str] = {}
    try:
        for name, length_max in (("username", USERNAME_LENGTH_MAX), ("display_name", DISPLAY_NAME_LENGTH_MAX),
                                 ("role", 40)):
            values[name] = form_text(form, name, required=name != "display_name", length_max=length_max)
        password = _password(form)
        await run_in_threadpool(lambda: create_user(
            engine_of(request), values["username"], password, values["role"], display_name=values["display_name"],
            actor=user.actor, actor_role=user.role, client=client_of(request)))
    except (StaffError, FormError) as exc:
        return _refused(request, exc, values=values)
    return _done("staff_created")


def _password(form: Any) -> str:
    """The password as typed: not stripped (spaces may be part of it), but required."""
    value = form.get("password", "")
    if not isinstance(value, str):
        raise FormError("password", "must be text")
    if not value:
        raise FormError("password", "is required")
    if len(value) > PASSWORD_LENGTH_MAX:  # the service says the same; this spares the hashing
        raise FormError("password", f"must be at most {PASSWORD_LENGTH_MAX} characters")
    return value


def _target(username: str) -> str:
    if not 0 < len(username) <= USERNAME_LENGTH_MAX:
        raise StaffNotFound(username[:USERNAME_LENGTH_MAX])
    return username


@router.post(STAFF_PAGE + "/{username}/password")
async def staff_password(username: str, request: Request) -> Response:
    by: StaffUser = current_user(request)
    form = await request.form()
    try:
        name, password = _target(username), _password(form)
        await run_in_threadpool(lambda: set_password(engine_of(request), name, password, by=by,
                                                     client=client_of(request)))
    except (StaffError, FormError) as exc:
        return _refused(request, exc, target=username)
    return _done("staff_password_set")


async def _command(request: Request, username: str, command: str) -> Response:
    function, flash = COMMANDS[command]
    by = current_user(request)
    try:
        name = _target(username)
        await run_in_threadpool(lambda: function(engine_of(request), name, by=by, client=client_of(request)))
    except StaffError as exc:
        return _refused(request, exc, target=username)
    return _done(flash)


@router.post(STAFF_PAGE + "/{username}/disable")
async def staff_disable(username: str, request: Request) -> Response:
    return await _command(request, username, "disable")


@router.post(STAFF_PAGE + "/{username}/enable")
async def staff_enable(username: str, request: Request) -> Response:
    return await _command(request, username, "enable")


@router.post(STAFF_PAGE + "/{username}/unlock")
async def staff_unlock(username: str, request: Request) -> Response:
    return await _command(request, username, "unlock")
