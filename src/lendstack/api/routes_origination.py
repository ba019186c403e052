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
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from lendstack.api.common import EngineDep, IsoDate, PageDep, with_display
from lendstack.api.idempotency import (
    IdempotencyKey,
    first_in,
    remember_in,
    replay,
    replay_of,
    replayable,
    request_digest,
    service_key,
)
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import audit_in, mark_audited, principal_of
from lendstack.decisioning.types import decision_to_dict
from lendstack.services.decisions import accept_offer, decide_prepared, decided_status, prepare_decision
from lendstack.services.models import scoring_model
from lendstack.store import UnitOfWork
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.store.tables_origination import applications

router = APIRouter(prefix="/v1")
SUBMIT_ATTEMPTS = 2  # a partner's submission is tried again once when its id was taken under it


def owned_application(engine: Engine, principal: Principal, application_id: str) -> tuple[str, str]:
    """(the book's id, the partner id) of the application the caller names `application_id`: a partner
    names its own (partner, reference), staff the book's id. 404 when there is none: what another
    partner uses the id for is never looked at (a partner must not learn which ids exist elsewhere)."""
    c = applications.c
    query = select(c.application_id, c.partner_id)
    if principal.is_partner:
        query = query.where(c.partner_id == principal.partner_id, c.reference == application_id)
    else:
        query = query.where(c.application_id == application_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise Problem(404, "not-found", f"no application {application_id!r}", field="application_id")
    return str(row.application_id), str(row.partner_id)


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
    for attempt in range(SUBMIT_ATTEMPTS):
        try:
            # One transaction: the decision, the idempotency record and the audit row commit together.
            with UnitOfWork(engine) as uow:
                first = first_in(uow.connection, principal, key)  # a twin may have committed since replay_of
                if first is not None:
                    return replay(first, digest)
                decision = decide_prepared(uow, prepared)
                # decision_to_dict is JSON-ready (strings, numbers, lists, dicts): no jsonable_encoder pass.
                shown = prepared.application.reference or decision.application_id  # the caller's own id
                body = {"application_id": shown, "status": decided_status(decision),
                        "decision": {**decision_to_dict(decision), "application_id": shown}}
                remember_in(uow.connection, principal, key, "POST", path, digest, 201, body)
                audit_in(uow.connection, principal, request, 201)
            break
        except IntegrityError:
            # A twin with the same key committed first (PostgreSQL: both passed first_in): answer as it did.
            replayed = replay_of(engine, principal, key, digest)
            if replayed is not None:
                return replayed
            # Or another partner took the same id at the same instant (PostgreSQL: both saw it free):
            # scoped again (decide_prepared), this partner's record gets a book id of its own.
            if not principal.is_partner or attempt + 1 == SUBMIT_ATTEMPTS:
                raise
    mark_audited(request)
    return JSONResponse(body, status_code=201)


@router.get("/applications", tags=["applications"])
def list_applications(request: Request, engine: EngineDep, page: PageDep,
                      status: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    c = applications.c
    principal = principal_of(request)
    shown = c.reference if principal.is_partner else c.application_id  # a partner's ids are its references
    query = select(shown.label("application_id"), c.status, c.product_id, c.partner_id, c.applied_on, c.currency,
                   c.requested_amount_minor).order_by(shown)
    if principal.is_partner:
        query = query.where(c.partner_id == principal.partner_id)
    if status is not None:
        query = query.where(c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(page.limit + 1).offset(page.offset)).all()
    return page.wrap([with_display(dict(r._mapping), r.currency) for r in rows])


@router.get("/applications/{application_id}", tags=["applications"])
def get_application(application_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    book_id, partner_id = owned_application(engine, principal_of(request), application_id)
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        status = repo.status_of(book_id)
        history = [{"status": h.status, "reason": h.reason, "changed_at": h.changed_at.isoformat()}
                   for h in repo.history(book_id)]
    return {"application_id": application_id, "status": status, "partner_id": partner_id, "history": history}


@router.get("/applications/{application_id}/decision", tags=["applications"])
def get_decision(application_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    book_id, _partner_id = owned_application(engine, principal_of(request), application_id)
    with UnitOfWork(engine) as uow:
        stored = DecisionRepository(uow.connection).get(book_id)
    if stored is None:
        raise Problem(404, "not-found", f"application {application_id!r} has no decision yet", field="application_id")
    return {**stored.decision, "application_id": application_id}  # the caller's own id


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
