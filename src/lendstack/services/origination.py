"""Applications as a partner or a staff member sees them, and the submit-and-decide use case.

Each partner names applications and applicants in its own namespace: `reader` below is the
caller's partner id ('' for staff, who use the book's ids). Another partner's record, under any
id, is to a partner exactly an unknown id (`NotFound`): what another partner uses an id for is
never looked at.

`submit_and_decide` is the API's POST /v1/applications: the decision, the HTTP idempotency record
and the caller's audit row commit in ONE transaction, so a retry finds either all of it or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lendstack.decisioning.types import decision_to_dict
from lendstack.errors import NotFound
from lendstack.services.api_access import kept_response, kept_response_in, remember_response_in
from lendstack.services.decisions import Prepared, decide_prepared, decided_status
from lendstack.store import Connection, Engine, UnitOfWork
from lendstack.store.api_repo import DuplicateRecord, KeptResponse
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.origination_repo import ApplicantRecord, ApplicationListing, ApplicationRepository

__all__ = [
    "SUBMIT_ATTEMPTS", "ApplicantView", "ApplicationListing", "ApplicationView", "OwnedApplication", "Submission",
    "applicant_view", "application_page", "application_view", "decision_of", "owned_application",
    "submit_and_decide",
]

SUBMIT_ATTEMPTS = 2  # a partner's submission is tried again once when its id was taken under it


@dataclass(frozen=True, slots=True)
class OwnedApplication:
    application_id: str  # the book's id
    partner_id: str


@dataclass(frozen=True, slots=True)
class StatusStep:
    status: str
    reason: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationView:
    application_id: str  # as its reader named it
    status: str
    partner_id: str
    history: tuple[StatusStep, ...]

    def to_json(self) -> dict[str, Any]:
        return {"application_id": self.application_id, "status": self.status, "partner_id": self.partner_id,
                "history": [{"status": h.status, "reason": h.reason, "changed_at": h.changed_at.isoformat()}
                            for h in self.history]}


@dataclass(frozen=True, slots=True)
class ApplicantView:
    applicant: ApplicantRecord
    applications: tuple[ApplicationListing, ...]  # one page (and one more row: is there a next page?)


@dataclass(frozen=True, slots=True)
class Submission:
    """The answer to a submission: `replayed` when an earlier request with the same key made it."""

    response: KeptResponse
    replayed: bool


def owned_application(engine: Engine, reader: str, application_id: str) -> OwnedApplication:
    """The application `reader` names `application_id`; NotFound when there is none (for a partner:
    none of its own)."""
    with engine.connect() as conn:
        found = ApplicationRepository(conn).owned(reader, application_id)
    if found is None:
        raise NotFound("application_id", f"no application {application_id!r}")
    return OwnedApplication(*found)


def application_page(engine: Engine, reader: str, status: str | None, limit: int,
                     offset: int) -> list[ApplicationListing]:
    with engine.connect() as conn:
        return ApplicationRepository(conn).page(reader, status, limit, offset)


def application_view(engine: Engine, owned: OwnedApplication, shown: str) -> ApplicationView:
    """The application's status and its history; `shown` is the id its reader knows it by."""
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        status = repo.status_of(owned.application_id)
        history = tuple(StatusStep(h.status, h.reason, h.changed_at) for h in repo.history(owned.application_id))
    return ApplicationView(shown, status, owned.partner_id, history)


def decision_of(engine: Engine, owned: OwnedApplication, shown: str) -> dict[str, Any]:
    """The acting decision's document under the reader's id; NotFound while it has none."""
    with UnitOfWork(engine) as uow:
        stored = DecisionRepository(uow.connection).get(owned.application_id)
    if stored is None:
        raise NotFound("application_id", f"application {shown!r} has no decision yet")
    return {**stored.decision, "application_id": shown}  # the caller's own id


def applicant_view(engine: Engine, reader: str, applicant_id: str, status: str | None, limit: int,
                   offset: int) -> ApplicantView:
    """The applicant `reader` names `applicant_id` and a page of its applications (a partner: its own)."""
    with engine.connect() as conn:
        repo = ApplicationRepository(conn)
        person = repo.applicant(reader, applicant_id)
        if person is None:
            raise NotFound("applicant_id", f"no applicant {applicant_id!r}")
        page = repo.applicant_page(person.applicant_id, reader, status, limit, offset)
    return ApplicantView(person, tuple(page))


def submit_and_decide(engine: Engine, prepared: Prepared, *, key_id: str, key: str, method: str, path: str,
                      digest: str, audit: Callable[[Connection], None]) -> Submission:
    """Decide `prepared` and keep the response for (key id, Idempotency-Key), with the caller's audit
    row (`audit` writes it on the transaction's connection), all in one transaction. A twin request
    that committed first is answered with its response instead (the caller compares the digests)."""
    partner_scoped = bool(prepared.application.reference)
    for attempt in range(SUBMIT_ATTEMPTS):
        try:
            with UnitOfWork(engine) as uow:
                first = kept_response_in(uow.connection, key_id, key)  # a twin may have committed since
                if first is not None:
                    return Submission(first, replayed=True)
                decision = decide_prepared(uow, prepared)
                # decision_to_dict is JSON-ready (strings, numbers, lists, dicts): no encoding pass.
                shown = prepared.application.reference or decision.application_id  # the caller's own id
                body = {"application_id": shown, "status": decided_status(decision),
                        "decision": {**decision_to_dict(decision), "application_id": shown}}
                remember_response_in(uow.connection, key_id, key, method, path, digest, 201, body)
                audit(uow.connection)
            return Submission(KeptResponse(digest, 201, body), replayed=False)
        except DuplicateRecord:
            # A twin with the same key committed first (PostgreSQL: both passed the check): answer as it did.
            first = kept_response(engine, key_id, key)
            if first is not None:
                return Submission(first, replayed=True)
            # Or another partner took the same id at the same instant (PostgreSQL: both saw it free):
            # scoped again (decide_prepared), this partner's record gets a book id of its own.
            if not partner_scoped or attempt + 1 == SUBMIT_ATTEMPTS:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
