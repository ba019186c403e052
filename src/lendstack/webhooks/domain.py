"""Webhook rules without I/O: the events partners may subscribe to, delivery statuses, who receives
which event (fan-out), and the error every webhook use case raises.

A staff subscription (partner '' ) receives every event it asked for; a partner's subscription only
the events of what that partner brought (its applications, its loans), under the partner's own id
for the aggregate where it named it differently."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lendstack.errors import ErrorKind, LendstackError
from lendstack.events import DomainEvent

# The events partners may subscribe to (what the services write to the outbox).
EVENT_TYPES = frozenset({
    "application.decided", "application.reviewed", "loan.booked", "loan.disbursed", "loan.repaid",
    "loan.prepaid", "loan.overdue", "loan.restructured", "loan.written_off", "loan.refunded",
    "loan.recovered", "loan.payment_reversed", "loan.non_accrual", "loan.accrual_resumed",
})
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATUSES = (PENDING, DELIVERED, DEAD)
SUBSCRIPTIONS_MAX = 10_000  # the fan-out reads at most this many active subscriptions per pass
SUBSCRIPTION_ID_BYTES = 8

# (aggregate type, aggregate id) → a value: the owner (partner id) or the partner's own id for it.
AggregateMap = Mapping[tuple[str, str], str]


class WebhookError(LendstackError):
    """Bad input, an unknown id (kind NOT_FOUND) or a state that forbids the call; names the field.

    `not_found=True` is the older spelling of kind=NOT_FOUND, kept for callers."""

    def __init__(self, field: str, message: str, *, not_found: bool = False, kind: ErrorKind | None = None) -> None:
        super().__init__(field, message, kind=ErrorKind.NOT_FOUND if not_found else kind)

    @property
    def not_found(self) -> bool:
        return self.kind == ErrorKind.NOT_FOUND


def unknown(field: str, what: str, id_: str) -> WebhookError:
    """An unknown id, or someone else's: the two must be indistinguishable to the caller."""
    return WebhookError(field, f"unknown {what} {id_!r}", kind=ErrorKind.NOT_FOUND)


@dataclass(frozen=True, slots=True)
class Subscription:
    """What the fan-out needs of an active subscription."""

    subscription_id: str
    partner_id: str
    url: str
    event_types: tuple[str, ...]
    active: bool

    def matches(self, event_type: str, owner: str) -> bool:
        # A staff subscription ('' partner) sees everything; a partner only what it brought.
        return self.active and event_type in self.event_types and (not self.partner_id or self.partner_id == owner)


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A stored subscription as shown to its owner: never the secret."""

    subscription_id: str
    partner_id: str
    url: str
    event_types: tuple[str, ...]
    active: bool
    created_at: datetime
    deactivated_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        at = self.deactivated_at
        return {"subscription_id": self.subscription_id, "partner_id": self.partner_id, "url": self.url,
                "event_types": list(self.event_types), "active": self.active,
                "created_at": self.created_at.isoformat(), "deactivated_at": at.isoformat() if at else None}


@dataclass(frozen=True, slots=True)
class CreatedSubscription:
    """The answer to a subscribe call: the only time the signing secret is shown."""

    subscription: SubscriptionRecord
    secret: str

    @property
    def subscription_id(self) -> str:
        return self.subscription.subscription_id

    def to_json(self) -> dict[str, Any]:
        return {**self.subscription.to_json(), "secret": self.secret}


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery of one event to one subscription, with its retry state."""

    delivery_id: str
    event_id: str
    subscription_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime | None
    updated_at: datetime | None
    delivered_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at is not None else None

        return {"delivery_id": self.delivery_id, "event_id": self.event_id, "subscription_id": self.subscription_id,
                "event_type": self.event_type, "status": self.status, "attempts": self.attempts,
                "next_attempt_at": iso(self.next_attempt_at), "last_status_code": self.last_status_code,
                "last_error": self.last_error, "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at), "delivered_at": iso(self.delivered_at)}


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A pending delivery whose attempt is due, with what sending it needs from its subscription."""

    delivery_id: str
    subscription_id: str
    event_type: str
    event: dict[str, Any]  # the body as sent: retries never re-read the outbox
    attempts: int
    next_attempt_at: datetime
    url: str
    sealed_secret: str
    active: bool


@dataclass(frozen=True, slots=True)
class DeliveryOwner:
    """Whose subscription a delivery belongs to, and whether it still receives."""

    partner_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """A delivery the fan-out decided to make (stored as pending, attempt due at once)."""

    delivery_id: str
    event_id: str
    subscription_id: str
    event_type: str
    event: dict[str, Any]


def new_subscription_id() -> str:
    return "ws_" + secrets.token_hex(SUBSCRIPTION_ID_BYTES)


def check_types(event_types: Sequence[str]) -> tuple[str, ...]:
    """The subscribed event types, sorted and without repeats; every one must be known."""
    unknown_types = sorted(set(event_types) - EVENT_TYPES)
    if not event_types or unknown_types:
        raise WebhookError("event_types",
                           f"unknown or empty: {unknown_types}; known: {', '.join(sorted(EVENT_TYPES))}")
    return tuple(sorted(set(event_types)))


def check_owner(owner: str, caller: str | None, field: str, what: str, id_: str) -> None:
    """`caller` None is staff (sees everything); a partner sees only its own, and anything else is unknown."""
    if caller is not None and owner != caller:
        raise unknown(field, what, id_)


def delivery_id_for(event_id: str, subscription_id: str) -> str:
    """Derived from (event, subscription), so a repeated fan-out makes the same id and inserts nothing twice."""
    return "wd_" + hashlib.sha256(f"{event_id}\x00{subscription_id}".encode()).hexdigest()[:24]


def event_body(event: DomainEvent, shown_id: str = "") -> dict[str, Any]:
    return {"event_id": event.event_id, "event_type": event.event_type, "aggregate_type": event.aggregate_type,
            "aggregate_id": shown_id or event.aggregate_id, "occurred_at": event.occurred_at.isoformat(),
            "payload": event.payload}


def application_ids(events: Iterable[DomainEvent]) -> set[str]:
    return {e.aggregate_id for e in events if e.aggregate_type == "application"}


def loan_ids(events: Iterable[DomainEvent]) -> set[str]:
    return {e.aggregate_id for e in events if e.aggregate_type == "loan"}


def plan_deliveries(events: Iterable[DomainEvent], subscriptions: Sequence[Subscription], owners: AggregateMap,
                    references: AggregateMap | None = None) -> list[PlannedDelivery]:
    """One delivery per (event, matching subscription). `owners`: who brought each aggregate ('' when
    none); `references`: a partner's own id for an aggregate, which is what a partner is sent."""
    shown = references or {}
    return [PlannedDelivery(delivery_id_for(e.event_id, s.subscription_id), e.event_id, s.subscription_id,
                            e.event_type,
                            event_body(e, shown.get((e.aggregate_type, e.aggregate_id), "") if s.partner_id else ""))
            for e in events for s in subscriptions
            if s.matches(e.event_type, owners.get((e.aggregate_type, e.aggregate_id), ""))]
