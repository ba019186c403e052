"""Webhooks: subscribe (the secret is shown once), list, deactivate; the delivery log with its
dead-letter filter, and redelivery. A partner sees and manages only its own subscriptions and their
deliveries; staff (admin) subscriptions receive every event."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lendstack.api.common import EngineDep, PageDep
from lendstack.api.idempotency import IdempotencyKey, replayable
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import principal_of
from lendstack.errors import ErrorKind
from lendstack.secretbox import SecretBoxError
from lendstack.webhooks import service as svc

router = APIRouter(prefix="/v1/webhooks")
DeliveryStatus = Literal["pending", "delivered", "dead"]


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=svc.URL_LENGTH_MAX, description="http(s) URL that receives POSTs")
    event_types: list[str] = Field(min_length=1, max_length=len(svc.EVENT_TYPES),
                                   description=f"any of: {', '.join(sorted(svc.EVENT_TYPES))}")


def _scope(principal: Principal) -> str | None:
    # None = no partner filter (staff see everything).
    return principal.partner_id if principal.is_partner else None


def _problem(exc: svc.WebhookError) -> Problem:
    # Every other kind (a deactivated subscription's redelivery is a conflict) has always answered 422.
    if exc.kind == ErrorKind.NOT_FOUND:
        return Problem(404, "not-found", exc.message, field=exc.field)
    return Problem(422, "invalid", exc.message, field=exc.field)


@router.post("/subscriptions", status_code=201, tags=["webhooks"])
def subscribe(request: Request, engine: EngineDep, body: SubscriptionRequest,
              key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    principal = principal_of(request)

    def run() -> tuple[int, Any]:
        try:
            return 201, svc.create_subscription(engine, url=body.url, event_types=body.event_types,
                                                partner_id=principal.partner_id,
                                                created_by=principal.key_id).to_json()
        except svc.WebhookError as exc:
            raise _problem(exc) from exc

    # A retry with the same key replays the first answer, secret included (it is the same caller's
    # answer, perhaps lost the first time), but the idempotency table never holds the secret: it keeps
    # the answer without it, and the replay opens the sealed secret of the subscription again.
    answer = replayable(engine, principal, key, "POST", request.url.path, body.model_dump(mode="json"), run,
                        kept=svc.without_secret)
    return _with_secret(answer, lambda sid: svc.subscription_secret(engine, sid, partner_id=principal.partner_id))


def _with_secret(answer: JSONResponse, secret_of: Callable[[str], str]) -> JSONResponse:
    if answer.headers.get("Idempotent-Replayed") != "true" or answer.status_code != 201:
        return answer
    kept = json.loads(bytes(answer.body))
    assert kept.get("secret") == svc.SECRET_WITHHELD, "a kept subscribe answer holds no secret"
    try:
        secret = secret_of(kept["subscription_id"])
    except (svc.WebhookError, SecretBoxError) as exc:
        raise Problem(500, "secret-unavailable", f"the subscription's secret cannot be read: {exc}",
                      field="secret") from exc
    return JSONResponse({**kept, "secret": secret}, status_code=201, headers={"Idempotent-Replayed": "true"})


@router.get("/subscriptions", tags=["webhooks"])
def subscriptions(request: Request, engine: EngineDep, page: PageDep) -> dict[str, Any]:
    items = svc.list_subscriptions(engine, partner_id=_scope(principal_of(request)), limit=page.limit + 1,
                                   offset=page.offset)
    return page.wrap([s.to_json() for s in items])


@router.delete("/subscriptions/{subscription_id}", tags=["webhooks"])
def deactivate(subscription_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    try:
        return svc.deactivate_subscription(engine, subscription_id,
                                           partner_id=_scope(principal_of(request))).to_json()
    except svc.WebhookError as exc:
        raise _problem(exc) from exc


@router.get("/deliveries", tags=["webhooks"])
def deliveries(request: Request, engine: EngineDep, page: PageDep,
               status: Annotated[DeliveryStatus | None, Query()] = None) -> dict[str, Any]:
    items = svc.list_deliveries(engine, status=status, partner_id=_scope(principal_of(request)),
                                limit=page.limit + 1, offset=page.offset)
    return page.wrap([d.to_json() for d in items])


@router.post("/deliveries/{delivery_id}/redeliver", tags=["webhooks"])
def redeliver(delivery_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    try:
        return svc.redeliver(engine, delivery_id, partner_id=_scope(principal_of(request))).to_json()
    except svc.WebhookError as exc:
        raise _problem(exc) from exc
