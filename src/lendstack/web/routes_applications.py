"""Applications: the list, the submit form (typed in, or a simulated applicant), the detail page
(data sources with fingerprints, flags, score, reasons in English and Chinese, price, limit,
policy and model versions, status history, accept-offer), and the manual review queue."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.decisioning import DecisionInputError
from lendstack.money import Money, MoneyError
from lendstack.origination import ApplicationError
from lendstack.origination.status import STATUSES, StatusError
from lendstack.products import load_catalog
from lendstack.services.browse import application_rows, application_view
from lendstack.services.conflicts import IdempotencyConflict
from lendstack.services.decisions import ReviewError, accept_offer, assign_review, list_reviews, resolve_review
from lendstack.services.models import scoring_model
from lendstack.servicing import ServicingError
from lendstack.sim import APPLICANT_TYPES, COLLATERALS, PURPOSES, REGIONS, SEGMENTS
from lendstack.web.auth import current_user
from lendstack.web.forms import FormError, form_int, form_text, is_htmx
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
USER_ERRORS = (ApplicationError, DecisionInputError, MoneyError, ServicingError, ReviewError, StatusError,
               IdempotencyConflict, FormError)
GENDERS = ("female", "male")
REVIEW_ACTIONS = ("approve", "decline", "counter_offer")


def _error(exc: Exception) -> dict[str, str]:
    return {"field": str(getattr(exc, "field", "form")), "message": str(getattr(exc, "message", exc))}


@router.get("/console/applications")
def applications_page(request: Request, status: str = "", offset: int = 0) -> Response:
    chosen = status if status in STATUSES else ""
    rows, more = application_rows(engine_of(request), status=chosen or None, offset=offset)
    return render(request, "applications.html", {"rows": rows, "more": more, "offset": max(offset, 0),
                                                 "status": chosen, "statuses": STATUSES})


# --------------------------------------------------------------------------- submitting


def _form_context(values: dict[str, str], error: dict[str, str] | None = None) -> dict[str, Any]:
    return {"products": sorted(load_catalog().values(), key=lambda p: p.product_id), "values": values,
            "error": error, "segments": SEGMENTS, "regions": REGIONS, "purposes": PURPOSES,
            "collaterals": COLLATERALS, "applicant_types": APPLICANT_TYPES, "genders": GENDERS,
            "application_id": values.get("application_id") or _new_application_id()}


def _new_application_id() -> str:
    # Made when the form is drawn, so submitting the same form twice decides one application.
    return f"C{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(5)}"


@router.get("/console/applications/new")
def new_application_page(request: Request) -> Response:
    return render(request, "application_new.html", _form_context({}))


def _hashed(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value.strip().lower()}".encode()).hexdigest()[:16]


def _money_minor(form: FormData, name: str, currency: str, *, required: bool) -> int | None:
    text = form_text(form, name, required=required, length_max=20)
    if not text:
        return None
    try:
        minor = Money.of_major(text.replace(",", ""), currency).amount_minor
    except MoneyError as exc:
        raise FormError(name, exc.message) from exc
    if minor < 0:
        raise FormError(name, "must not be negative")
    return minor


def _choice(form: FormData, name: str, choices: tuple[str, ...]) -> str:
    value = form_text(form, name, required=True, length_max=40)
    if value not in choices:
        raise FormError(name, f"must be one of {', '.join(choices)}")
    return value


def _typed_document(form: FormData, application_id: str, product_id: str, currency: str) -> dict[str, Any]:
    phone = form_text(form, "phone", required=True, length_max=40)
    income = _money_minor(form, "monthly_income", currency, required=False)
    score = form_int(form, "bureau_score", required=False, low=0, high=1000)
    bureau = {k: v for k, v in (("monthly_income_minor", income), ("bureau_score", score)) if v is not None}
    return {
        "application_id": application_id, "applied_on": datetime.now(UTC).date().isoformat(), "currency": currency,
        "product_id": product_id,
        "applicant": {
            "applicant_type": _choice(form, "applicant_type", APPLICANT_TYPES),
            "segment": _choice(form, "segment", SEGMENTS), "region": _choice(form, "region", REGIONS),
            "gender": _choice(form, "gender", GENDERS), "age": form_int(form, "age", required=True, low=18, high=100),
            "identifiers": {"phone_hash": _hashed("phone", phone), "device_id": _hashed("device", phone),
                            "bank_account_hash": _hashed("bank", form_text(form, "bank_account", length_max=40)
                                                         or phone),
                            "address_hash": _hashed("address", form_text(form, "address", length_max=200) or phone)}},
        "declared": {
            "declared_monthly_revenue_minor": _money_minor(form, "declared_monthly_revenue", currency, required=False),
            "requested_amount_minor": _money_minor(form, "amount", currency, required=True),
            "requested_term_months": form_int(form, "term_months", required=True, low=1, high=360),
            "purpose": _choice(form, "purpose", PURPOSES), "collateral": _choice(form, "collateral", COLLATERALS)},
        "data_sources": {"bureau": bureau} if bureau else {},
    }


def _simulated_document(application_id: str, product_id: str) -> dict[str, Any]:
    from lendstack.sim import generate_applications, to_application_json

    frame = generate_applications(1, seed=secrets.randbelow(2**31), as_of=datetime.now(UTC).date())
    document = to_application_json(frame.row(0, named=True))
    return {**document, "application_id": application_id, **({"product_id": product_id} if product_id else {})}


def _document(form: FormData) -> dict[str, Any]:
    application_id = form_text(form, "application_id", required=True, length_max=64)
    product_id = form_text(form, "product_id", length_max=64)
    catalog = load_catalog()
    if product_id and product_id not in catalog:
        raise FormError("product_id", f"unknown product {product_id!r}")
    if form.get("simulate"):
        return _simulated_document(application_id, product_id)
    if not product_id:
        raise FormError("product_id", "choose a product (or simulate an applicant)")
    return _typed_document(form, application_id, product_id, catalog[product_id].currency)


def _decide(request: Request, document: dict[str, Any]) -> str:
    from lendstack.services.decisions import decide_application

    model = scoring_model(request.app.state.registry_dir)
    return decide_application(engine_of(request), document, model=model).application_id


@router.post("/console/applications")
async def submit_application(request: Request) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        document = _document(form)
        application_id = await run_in_threadpool(_decide, request, document)
    except USER_ERRORS as exc:
        if isinstance(exc, DecisionInputError) and "already decided" in str(exc):
            return RedirectResponse(f"/console/applications/{values['application_id']}", status_code=303)
        return render(request, "application_new.html", _form_context(values, _error(exc)), status_code=422)
    return RedirectResponse(f"/console/applications/{application_id}?flash=submitted", status_code=303)


# --------------------------------------------------------------------------- one application


@router.get("/console/applications/{application_id}")
def application_page(application_id: str, request: Request) -> Response:
    view = application_view(engine_of(request), application_id)
    if view is None:
        return render(request, "error.html", {"status": 404, "detail_key": "error.not_found"}, status_code=404)
    return render(request, "application.html", {"view": view, "error": None})


@router.post("/console/applications/{application_id}/accept")
async def accept_application_offer(application_id: str, request: Request) -> Response:
    engine = engine_of(request)
    try:
        # One key per application: a double click or a retry books the loan once. Dated on the
        # book's business date (None), like every money command.
        key = f"console-accept-{application_id}"
        booked = await run_in_threadpool(accept_offer, engine, application_id, None, key)
    except USER_ERRORS as exc:
        view = application_view(engine, application_id)
        if view is None:
            return render(request, "error.html", {"status": 404, "detail_key": "error.not_found"}, status_code=404)
        return render(request, "application.html", {"view": view, "error": _error(exc)}, status_code=422)
    return RedirectResponse(f"/console/loans/{booked['loan_id']}?flash=booked", status_code=303)


# --------------------------------------------------------------------------- manual review


@router.get("/console/reviews")
def reviews_page(request: Request, status: str = "") -> Response:
    chosen = status if status in ("open", "assigned", "done") else ""
    items = list_reviews(engine_of(request), chosen or None)
    return render(request, "reviews.html", {"items": items, "status": chosen, "error": None,
                                            "actions": REVIEW_ACTIONS})


def _review_answer(request: Request, application_id: str, error: dict[str, str] | None, flash: str) -> Response:
    if not is_htmx(request):
        if error is not None:
            items = list_reviews(engine_of(request))
            return render(request, "reviews.html", {"items": items, "status": "", "error": error,
                                                    "actions": REVIEW_ACTIONS}, status_code=422)
        return RedirectResponse(f"/console/reviews?flash={flash}", status_code=303)
    found = [i for i in list_reviews(engine_of(request)) if i.application_id == application_id]
    if not found:
        return render(request, "error.html", {"status": 404, "detail_key": "error.not_found"}, status_code=404)
    return render(request, "_review_row.html", {"item": found[0], "row_error": error, "actions": REVIEW_ACTIONS},
                  status_code=422 if error is not None else 200)


@router.post("/console/reviews/{application_id}/assign")
async def assign(application_id: str, request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    error = None
    try:
        assignee = form_text(form, "assignee", length_max=64) or user.username
        await run_in_threadpool(assign_review, engine_of(request), application_id, assignee, by=user.username)
    except USER_ERRORS as exc:
        error = _error(exc)
    return _review_answer(request, application_id, error, "assigned")


def _counter_offer(form: FormData, application_id: str, request: Request) -> dict[str, Any]:
    view = application_view(engine_of(request), application_id)
    currency = str(view.application["currency"]) if view else "CNY"
    rate = form_text(form, "counter_rate_annual", required=True, length_max=12)
    try:
        Decimal(rate)
    except InvalidOperation as exc:
        raise FormError("counter_rate_annual", f"not a decimal rate such as 0.18: {rate!r}") from exc
    return {"amount_minor": _money_minor(form, "counter_amount", currency, required=True),
            "term": form_int(form, "counter_term", required=True, low=1, high=360), "rate_annual": rate}


@router.post("/console/reviews/{application_id}/resolve")
async def resolve(application_id: str, request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    error = None
    try:
        action = _choice(form, "action", REVIEW_ACTIONS)
        counter = _counter_offer(form, application_id, request) if action == "counter_offer" else None
        note = form_text(form, "note", length_max=500)
        await run_in_threadpool(lambda: resolve_review(engine_of(request), application_id, action, by=user.username,
                                                       note=note, counter_offer=counter))
    except USER_ERRORS as exc:
        error = _error(exc)
    return _review_answer(request, application_id, error, "reviewed")
