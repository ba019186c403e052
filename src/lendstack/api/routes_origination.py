"""Applications (submit → decision with reason codes in English and Chinese, status, decision) and
offers (accept → a booked loan). A partner's calls carry its partner id; it sees only its own.

Each partner names applications and applicants in its own namespace: the ids in its paths and bodies
are its references, which the book maps to its own ids (`scoped_to_partner`), and its answers show
them back. Two partners may use the same id; neither can tell. Staff use the book's ids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from lendstack.api.common import EngineDep, IsoDate, PageDep, with_display
from lendstack.api.idempotency import IdempotencyKey, replay, replay_of, replayable, request_digest, service_key
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import audit_in, mark_audited, principal_of
from lendstack.decisioning import DecisionInputError
from lendstack.errors import ErrorKind, NotFound
from lendstack.services import origination
from lendstack.services.decisions import accept_offer, compare_replay, prepare_decision
from lendstack.services.models import scoring_model

router = APIRouter(prefix="/v1")


def reader_of(principal: Principal) -> str:
    """Whose namespace the caller reads: a partner's own ('' for staff: the book's ids)."""
    return principal.partner_id if principal.is_partner else ""


def not_found(exc: NotFound) -> Problem:
    return Problem(404, "not-found", exc.message, field=exc.field)


def owned_application(engine: Engine, principal: Principal, application_id: str) -> tuple[str, str]:
    """(the book's id, the partner id) of the application the caller names `application_id`: a partner
    names its own (partner, reference), staff the book's id. 404 when there is none: what another
    partner uses the id for is never looked at (a partner must not learn which ids exist elsewhere)."""
    try:
        owned = origination.owned_application(engine, reader_of(principal), application_id)
    except NotFound as exc:
        raise not_found(exc) from None
    return owned.application_id, owned.partner_id


@router.post("/applications", status_code=201, tags=["applications"])
def submit_application(request: Request, engine: EngineDep, document: Annotated[dict[str, Any], Body()],
                       key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Submit an application document and decide it at once: outcome, grade, price, limit, reasons (en/zh)."""
    principal = principal_of(request)
    if principal.is_partner:
        document = {**document, "partner_id": principal.partner_id}  # a partner cannot claim another's book
    path = request.url.path
    digest = request_digest("POST", path, document)
    replayed = replay_of(engine, principal, key, digest)  # a retry does no work, not even the data sources
    if replayed is not None:
        return replayed
    prepared = prepare_decision(document, model=scoring_model(request.app.state.registry_dir),
                                partner_scoped=principal.is_partner)
    # One transaction: the decision, the idempotency record and the audit row commit together.
    submitted = origination.submit_and_decide(
        engine, prepared, key_id=principal.key_id, key=key, method="POST", path=path, digest=digest,
        audit=lambda connection: audit_in(connection, principal, request, 201))
    if submitted.replayed:
        return replay(submitted.response, digest)
    mark_audited(request)
    return JSONResponse(submitted.response.body, status_code=201)


@router.get("/applications", tags=["applications"])
def list_applications(request: Request, engine: EngineDep, page: PageDep,
                      status: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    found = origination.application_page(engine, reader_of(principal_of(request)), status, page.limit + 1,
                                         page.offset)
    return page.wrap([with_display(item.to_json(), item.currency) for item in found])


@router.get("/applications/{application_id}", tags=["applications"])
def get_application(application_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    book_id, partner_id = owned_application(engine, principal_of(request), application_id)
    owned = origination.OwnedApplication(book_id, partner_id)
    return origination.application_view(engine, owned, application_id).to_json()


@router.get("/applications/{application_id}/decision", tags=["applications"])
def get_decision(application_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    book_id, partner_id = owned_application(engine, principal_of(request), application_id)
    try:
        return origination.decision_of(engine, origination.OwnedApplication(book_id, partner_id), application_id)
    except NotFound as exc:
        raise not_found(exc) from None


@router.get("/applications/{application_id}/replay", tags=["applications"])
def decision_replay(application_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    """Re-run the stored decision from its stored inputs, policy version and model version, and compare:
    the stored and the replayed decision and `matches` (an auditor's check; `differences` names the
    fields that differ). Another partner's application is an unknown one (404)."""
    book_id, _partner_id = owned_application(engine, principal_of(request), application_id)
    registry_dir = request.app.state.registry_dir
    try:
        comparison = compare_replay(engine, book_id,
                                    model=lambda version: scoring_model(registry_dir, version=version))
    except DecisionInputError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
        raise Problem(404, "not-found", f"application {application_id!r} has no decision yet",
                      field="application_id") from None
    return comparison.shown_as(application_id).to_json()  # under the caller's own id


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: IsoDate | None = None  # the booking date: the book's business date, which is also the default


@router.post("/offers/{application_id}/accept", status_code=201, tags=["offers"])
def accept(application_id: str, request: Request, engine: EngineDep, body: AcceptRequest,
           key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Accept the offer of an approved (or reviewer-approved) application: books the loan."""
    principal = principal_of(request)
    book_id, _partner_id = owned_application(engine, principal, application_id)  # 404 unless this partner's

    def run() -> tuple[int, Any]:
        booked = accept_offer(engine, book_id, body.on, service_key(principal, key), named=application_id)
        # accept_offer records the loan as the application's partner's (same transaction as the status).
        return 201, with_display(booked, str(booked["currency"]))

    return replayable(engine, principal, key, "POST", request.url.path, body.model_dump(mode="json"), run)
