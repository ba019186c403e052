"""Collections (催收) in the console: the collector work queue in priority order (amount overdue ×
P(roll), as the daily run ranked it), a filter for the logged-in collector's own cases, assignment
(admin), and one case: its contact log, promises to pay (kept / broken), the messages the run sent
through the channel (the outbox), its history, and forms to log a contact and record a promise.

Every write goes through lendstack.collections.service, which validates before it writes: bad input
comes back as the form again with the error naming the field, and nothing is stored. A collections
agent works the cases assigned to them (or not yet assigned); an admin works any case."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.api.permissions import allowed
from lendstack.collections import service as col
from lendstack.collections.domain import CONTACT_OUTCOMES, CollectionsError
from lendstack.money import Money, MoneyError
from lendstack.services.staff import StaffUser, staff_listing
from lendstack.web.auth import current_user
from lendstack.web.forms import FormError, form_text
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
QUEUE_VIEWS = ("all", "mine", "unassigned")
QUEUE_MAX = 200  # rows on one page of the queue: a collector's day, not the whole book
LOGGED_OUTCOMES = tuple(o for o in CONTACT_OUTCOMES if o != "promised")  # a promise has its own form
COLLECTOR_ROLE = "collections_agent"
NOTE_LENGTH_MAX = 2000
# The service names some fields after its arguments; the form names them after its inputs.
FORM_FIELDS = {"amount_minor": "amount"}
USER_ERRORS = (CollectionsError, FormError)


def _error(exc: Exception) -> dict[str, str]:
    field = str(getattr(exc, "field", "form"))
    return {"field": FORM_FIELDS.get(field, field), "message": str(getattr(exc, "message", exc))}


def _collectors(request: Request) -> list[str]:
    """Enabled collections agents: the people a case may be assigned to."""
    return [u.username for u in staff_listing(engine_of(request))
            if u.role == COLLECTOR_ROLE and u.disabled_at is None]


# --------------------------------------------------------------------------- the queue


@router.get("/console/collections")
def queue_page(request: Request, view: str = "all") -> Response:
    user = current_user(request)
    chosen = view if view in QUEUE_VIEWS else "all"
    engine = engine_of(request)
    if chosen == "mine":
        cases = col.list_queue(engine, collector=user.username, limit=QUEUE_MAX)
    else:
        cases = col.list_queue(engine, unassigned=chosen == "unassigned", limit=QUEUE_MAX)
    rows = [c.to_json() for c in cases]
    may_assign = _may(request, "POST", "/console/collections/{case_id}/assign")
    return render(request, "collections.html", {
        "rows": rows, "view": chosen, "views": QUEUE_VIEWS, "limit": QUEUE_MAX,
        "collectors": _collectors(request) if may_assign else [], "may_assign": may_assign})


def _may(request: Request, method: str, route: str) -> bool:
    return allowed(method, route, current_user(request).role)


# --------------------------------------------------------------------------- one case


def _case_page(request: Request, case_id: str, *, error: dict[str, str] | None = None, failed: str = "",
               values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    case = _exists(request, case_id)
    if case is None:
        return render(request, "error.html", {"status": 404, "detail_key": "error.not_found"}, status_code=404)
    user = current_user(request)
    may_work = _may(request, "POST", "/console/collections/{case_id}/contacts") and _works(user, case)
    may_assign = _may(request, "POST", "/console/collections/{case_id}/assign")
    return render(request, "collections_case.html", {
        "case": case, "error": error, "failed": failed, "values": values or {}, "outcomes": LOGGED_OUTCOMES,
        "may_work": may_work and case["status"] == "open", "may_assign": may_assign and case["status"] == "open",
        "collectors": _collectors(request) if may_assign else []}, status_code=status_code)


def _works(user: StaffUser, case: dict[str, Any]) -> bool:
    """Admins work any case; a collector the cases assigned to them and the unassigned ones."""
    return user.role != COLLECTOR_ROLE or case["collector"] in ("", user.username)


@router.get("/console/collections/{case_id}")
def case_page(case_id: str, request: Request) -> Response:
    return _case_page(request, case_id)


def _values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _exists(request: Request, case_id: str) -> dict[str, Any] | None:
    try:
        return col.get_case(engine_of(request), case_id).to_json()
    except CollectionsError:
        return None


def _case_to_work(request: Request, case_id: str) -> dict[str, Any] | None:
    """The case if it exists (None: the caller answers 404), refusing one assigned to another collector."""
    case = _exists(request, case_id)
    if case is None:
        return None
    if not _works(current_user(request), case):
        raise FormError("collector", f"case {case_id} is assigned to {case['collector']}")
    return case


@router.post("/console/collections/{case_id}/contacts")
async def log_contact(case_id: str, request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    try:
        if _case_to_work(request, case_id) is None:
            return _case_page(request, case_id)  # the 404 page
        outcome = form_text(form, "outcome", required=True, length_max=40)
        if outcome not in LOGGED_OUTCOMES:
            raise FormError("outcome", f"must be one of {', '.join(LOGGED_OUTCOMES)}, got {outcome!r}")
        note = form_text(form, "note", length_max=NOTE_LENGTH_MAX)
        await run_in_threadpool(lambda: col.log_contact(engine_of(request), case_id, outcome=outcome,
                                                        by=user.username, note=note))
    except USER_ERRORS as exc:
        return _case_page(request, case_id, error=_error(exc), failed="contact", values=_values(form), status_code=422)
    return RedirectResponse(f"/console/collections/{case_id}?flash=contact_logged", status_code=303)


def _form_date(form: FormData, name: str) -> date:
    text = form_text(form, name, required=True, length_max=10)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise FormError(name, f"not a date in YYYY-MM-DD form: {text!r}") from exc


def _amount_minor(form: FormData, currency: str) -> int:
    text = form_text(form, "amount", required=True, length_max=20).replace(",", "")
    try:
        amount = Money.of_major(text, currency)
    except MoneyError as exc:
        raise FormError("amount", exc.message) from exc
    if amount.amount_minor <= 0:
        raise FormError("amount", "must be positive")
    return amount.amount_minor


@router.post("/console/collections/{case_id}/promises")
async def record_promise(case_id: str, request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    try:
        case = _case_to_work(request, case_id)
        if case is None:
            return _case_page(request, case_id)
        amount_minor = _amount_minor(form, str(case["currency"]))
        promised_for = _form_date(form, "promised_for")
        note = form_text(form, "note", length_max=NOTE_LENGTH_MAX)
        # Made on the business day the book (and the case) stands at, not the wall clock's.
        on = date.fromisoformat(str(case["as_of"]))
        await run_in_threadpool(lambda: col.promise(engine_of(request), case_id, amount_minor=amount_minor,
                                                    promised_for=promised_for, on=on, by=user.username, note=note))
    except USER_ERRORS as exc:
        return _case_page(request, case_id, error=_error(exc), failed="promise", values=_values(form), status_code=422)
    return RedirectResponse(f"/console/collections/{case_id}?flash=promise_recorded", status_code=303)


@router.post("/console/collections/{case_id}/assign")
async def assign_case(case_id: str, request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    back = form.get("back", "")
    try:
        if _exists(request, case_id) is None:
            return _case_page(request, case_id)
        collector = form_text(form, "collector", required=True, length_max=64)
        if collector not in _collectors(request):
            raise FormError("collector", f"{collector!r} is not an enabled collections agent")
        await run_in_threadpool(lambda: col.assign(engine_of(request), case_id, collector, by=user.username))
    except USER_ERRORS as exc:
        return _case_page(request, case_id, error=_error(exc), failed="assign", values=_values(form), status_code=422)
    target = "/console/collections" if back == "queue" else f"/console/collections/{case_id}"
    return RedirectResponse(f"{target}?flash=case_assigned", status_code=303)
