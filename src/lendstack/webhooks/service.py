"""Webhooks use cases: partner subscriptions, fan-out from the outbox, signed delivery with retries.

One dispatch pass (bounded everywhere by batch sizes):
  1. fan out: the oldest unpublished outbox events → one delivery row per (event, matching active
     subscription), then the events are marked published, all in ONE transaction, so an event is
     either fanned out and published or neither;
  2. send: due pending deliveries are claimed (a lease on next_attempt_at, so two dispatchers never
     send the same attempt), POSTed outside any transaction, and their outcome recorded.

The rules live beside this module: who receives what (`domain`), the SSRF guard (`ssrf`),
signatures and sealed secrets (`signing`), backoff and dead letters (`retry`), the SQL
(`repository`) and the HTTP transport (`sender`). The names shells and tests use are re-exported
here (see __all__).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lendstack import secretbox
from lendstack.errors import ErrorKind
from lendstack.invariants import InvariantError
from lendstack.store import Connection, Engine, UnitOfWork
from lendstack.webhooks.domain import (
    DEAD,
    DELIVERED,
    EVENT_TYPES,
    PENDING,
    STATUSES,
    SUBSCRIPTIONS_MAX,
    CreatedSubscription,
    DeliveryRecord,
    DueDelivery,
    SubscriptionRecord,
    WebhookError,
    check_owner,
    check_types,
    delivery_id_for,
    new_subscription_id,
    plan_deliveries,
    unknown,
)
from lendstack.webhooks.repository import WebhookRepository
from lendstack.webhooks.retry import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    CLAIM_LEASE_S,
    MAX_ATTEMPTS,
    backoff,
    clip_error,
    error_for_status,
    outcome_of,
)
from lendstack.webhooks.sender import Sender, httpx_sender
from lendstack.webhooks.signing import (
    SECRET_WITHHELD,
    new_secret,
    open_secret,
    request_for,
    seal_secret,
    sign,
    signed_request,
    verify_signature,
    without_secret,
)
from lendstack.webhooks.ssrf import ALLOW_HOSTS_ENV, URL_LENGTH_MAX, check_url

__all__ = [
    "ALLOW_HOSTS_ENV", "BACKOFF_BASE_S", "BACKOFF_CAP_S", "DEAD", "DELIVERED", "EVENT_BATCH", "EVENT_TYPES",
    "MAX_ATTEMPTS", "PENDING", "SECRET_WITHHELD", "SEND_BATCH", "STATUSES", "URL_LENGTH_MAX", "CreatedSubscription",
    "DeliveryRecord", "DispatchCounts", "SendCounts", "Sender", "SubscriptionRecord", "WebhookError", "backoff",
    "create_subscription", "deactivate_subscription", "delivery_id_for", "dispatch", "fan_out", "httpx_sender",
    "list_deliveries", "list_subscriptions", "open_secret", "redeliver", "request_for", "send_due", "sign",
    "subscription_secret", "verify_signature", "without_secret",
]

EVENT_BATCH = 200
SEND_BATCH = 100
DEACTIVATED_ERROR = "subscription deactivated"


@dataclass(frozen=True, slots=True)
class SendCounts:
    """What one send pass did: attempts made, and how they ended."""

    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def to_json(self) -> dict[str, int]:
        return {"attempted": self.attempted, "delivered": self.delivered, "failed": self.failed, "dead": self.dead}


@dataclass(frozen=True, slots=True)
class DispatchCounts:
    """What one dispatch pass did: the fan-out, then the send."""

    events_published: int
    deliveries_created: int
    sent: SendCounts

    @property
    def attempted(self) -> int:
        return self.sent.attempted

    @property
    def delivered(self) -> int:
        return self.sent.delivered

    @property
    def failed(self) -> int:
        return self.sent.failed

    @property
    def dead(self) -> int:
        return self.sent.dead

    def to_json(self) -> dict[str, int]:
        return {"events_published": self.events_published, "deliveries_created": self.deliveries_created,
                **self.sent.to_json()}


# --- subscriptions ---------------------------------------------------------------------------------


def create_subscription(engine: Engine, *, url: str, event_types: Sequence[str], partner_id: str = "",
                        created_by: str = "", now: datetime | None = None) -> CreatedSubscription:
    """Subscribe; the answer holds the signing secret, the only time it is shown. The table keeps
    it sealed under the server key (lendstack.secretbox), bound to the subscription id."""
    subscription_id, secret = new_subscription_id(), new_secret()
    record = SubscriptionRecord(subscription_id, partner_id, check_url(url), check_types(event_types), True,
                                now or datetime.now(UTC), None)
    sealed = seal_secret(secret, subscription_id)
    with engine.begin() as conn:
        WebhookRepository(conn).add_subscription(record, sealed_secret=sealed, created_by=created_by)
    return CreatedSubscription(record, secret)


def subscription_secret(engine: Engine, subscription_id: str, *, partner_id: str | None) -> str:
    """The signing secret of one's own subscription, opened (for the replay of its subscribe call)."""
    with engine.connect() as conn:
        repo = WebhookRepository(conn)
        _owned_subscription(repo, subscription_id, partner_id)
        sealed = repo.sealed_secret(subscription_id)
    if sealed is None:
        raise InvariantError("an owned subscription has a secret")
    return open_secret(sealed, subscription_id)


def list_subscriptions(engine: Engine, *, partner_id: str | None, limit: int,
                       offset: int) -> list[SubscriptionRecord]:
    """Subscriptions (of one partner when `partner_id` is not None), oldest first; never the secrets."""
    with engine.connect() as conn:
        return WebhookRepository(conn).subscriptions(partner_id=partner_id, limit=limit, offset=offset)


def deactivate_subscription(engine: Engine, subscription_id: str, *, partner_id: str | None,
                            now: datetime | None = None) -> SubscriptionRecord:
    """Stop sending to it (kept for the delivery history). Idempotent."""
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        _owned_subscription(repo, subscription_id, partner_id)
        repo.deactivate(subscription_id, at=now or datetime.now(UTC))
        return _owned_subscription(repo, subscription_id, partner_id)


def _owned_subscription(repo: WebhookRepository, subscription_id: str, partner_id: str | None) -> SubscriptionRecord:
    record = repo.subscription(subscription_id)
    if record is None:
        raise unknown("subscription_id", "subscription", subscription_id)
    # Someone else's subscription is indistinguishable from a missing one.
    check_owner(record.partner_id, partner_id, "subscription_id", "subscription", subscription_id)
    return record


# --- fan-out ---------------------------------------------------------------------------------------


def fan_out(engine: Engine, *, now: datetime, limit: int = EVENT_BATCH) -> tuple[int, int]:
    """Turn up to `limit` pending outbox events into deliveries; (events published, deliveries created)."""
    with UnitOfWork(engine) as uow:
        events = uow.outbox.pending(limit)
        if not events:
            return 0, 0
        repo = WebhookRepository(uow.connection)
        planned = plan_deliveries(events, repo.active_subscriptions(SUBSCRIPTIONS_MAX), repo.owners(events),
                                  repo.references(events))
        repo.add_deliveries(planned, now=now)
        published = uow.outbox.mark_published([e.event_id for e in events], at=now)
    return published, len(planned)


# --- sending ---------------------------------------------------------------------------------------


def _due(engine: Engine, now: datetime, limit: int) -> list[DueDelivery]:
    with engine.connect() as conn:
        return WebhookRepository(conn).due(now, limit)


def _claim(conn: Connection, delivery: DueDelivery, now: datetime) -> bool:
    """Take the attempt by moving next_attempt_at (compare-and-set): only one dispatcher wins it."""
    return WebhookRepository(conn).claim(delivery.delivery_id, due_at=delivery.next_attempt_at,
                                         lease_until=now + timedelta(seconds=CLAIM_LEASE_S), now=now)


def _attempt(delivery: DueDelivery, sender: Sender, now: datetime) -> tuple[int | None, str]:
    """(status code or None, error text); '' error means delivered."""
    try:
        secret = open_secret(delivery.sealed_secret, delivery.subscription_id)
    except secretbox.SecretBoxError as exc:  # e.g. the server key changed: a failed attempt, named, not a crash
        return None, clip_error(f"secret: {exc.message}")
    body, headers = signed_request(delivery.event, delivery.event_type, delivery.delivery_id, secret, now)
    try:
        code = sender(delivery.url, body, headers)
    except Exception as exc:  # any transport failure is a failed attempt, never a crash of the pass
        return None, clip_error(f"{type(exc).__name__}: {exc}")
    return code, error_for_status(code)


def send_due(engine: Engine, *, now: datetime, sender: Sender, limit: int = SEND_BATCH) -> SendCounts:
    """Attempt up to `limit` due deliveries; counts by outcome."""
    counts = {"attempted": 0, "delivered": 0, "failed": 0, "dead": 0}
    for delivery in _due(engine, now, limit):
        if not delivery.active:
            # Deactivated after the fan-out: nothing to send to; kept visible in the dead-letter list.
            with engine.begin() as conn:
                WebhookRepository(conn).mark_dead(delivery.delivery_id, status=DEAD, error=DEACTIVATED_ERROR, now=now)
            counts["dead"] += 1
            continue
        with engine.begin() as conn:
            claimed = _claim(conn, delivery, now)
        if not claimed:
            continue  # another dispatcher took it
        code, error = _attempt(delivery, sender, now)  # outside any transaction: the POST may take seconds
        outcome = outcome_of(delivery.delivery_id, delivery.attempts, code, error, now)
        with engine.begin() as conn:
            WebhookRepository(conn).record_outcome(delivery.delivery_id, outcome)
        counts["attempted"] += 1
        counts["delivered" if not error else "dead" if outcome.status == DEAD else "failed"] += 1
    return SendCounts(**counts)


def dispatch(engine: Engine, *, now: datetime | None = None, sender: Sender = httpx_sender,
             limit: int = SEND_BATCH, event_limit: int = EVENT_BATCH) -> DispatchCounts:
    """One pass: fan out pending outbox events, then send due deliveries. Safe to run repeatedly."""
    at = now or datetime.now(UTC)
    published, created = fan_out(engine, now=at, limit=event_limit)
    return DispatchCounts(published, created, send_due(engine, now=at, sender=sender, limit=limit))


# --- dead letters and redelivery -------------------------------------------------------------------


def list_deliveries(engine: Engine, *, status: str | None, partner_id: str | None, limit: int,
                    offset: int = 0) -> list[DeliveryRecord]:
    """Deliveries, newest change first; a partner's only when `partner_id` is not None."""
    with engine.connect() as conn:
        return WebhookRepository(conn).deliveries(status=status, partner_id=partner_id, limit=limit, offset=offset)


def redeliver(engine: Engine, delivery_id: str, *, partner_id: str | None = None,
              now: datetime | None = None) -> DeliveryRecord:
    """Queue a delivery again now with a fresh attempt budget (a dead letter, or a re-send)."""
    at = now or datetime.now(UTC)
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        owner = repo.delivery_owner(delivery_id)
        if owner is None:
            raise unknown("delivery_id", "delivery", delivery_id)
        check_owner(owner.partner_id, partner_id, "delivery_id", "delivery", delivery_id)
        if not owner.active:
            raise WebhookError("delivery_id", "its subscription is deactivated", kind=ErrorKind.CONFLICT)
        repo.requeue(delivery_id, at=at)
        record = repo.delivery(delivery_id)
    if record is None:
        raise InvariantError("a requeued delivery is still there")
    return record
