"""Every SQL statement of the webhooks subsystem: subscriptions, the fan-out's reads, deliveries and
their retry state. `WebhookRepository` works on the caller's connection (inside its transaction)
and returns the frozen types of `webhooks.domain`, never rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from lendstack.events import DomainEvent
from lendstack.invariants import check
from lendstack.store.tables_api import api_loan_partners
from lendstack.store.tables_origination import applications
from lendstack.store.tables_webhooks import webhook_deliveries, webhook_subscriptions
from lendstack.webhooks.domain import (
    PENDING,
    SUBSCRIPTIONS_MAX,
    DeliveryOwner,
    DeliveryRecord,
    DueDelivery,
    PlannedDelivery,
    Subscription,
    SubscriptionRecord,
    application_ids,
    loan_ids,
)
from lendstack.webhooks.retry import AttemptOutcome

PAGE_MAX = 10_000  # a bound on any one list read

_s, _d = webhook_subscriptions.c, webhook_deliveries.c


class WebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- subscriptions -----------------------------------------------------------------------------

    def add_subscription(self, record: SubscriptionRecord, *, sealed_secret: str, created_by: str) -> None:
        self.connection.execute(insert(webhook_subscriptions).values(
            subscription_id=record.subscription_id, partner_id=record.partner_id, url=record.url,
            event_types=list(record.event_types), secret=sealed_secret, active=record.active,
            created_by=created_by, created_at=record.created_at))

    def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        row = self.connection.execute(select(webhook_subscriptions)
                                      .where(_s.subscription_id == subscription_id)).first()
        return None if row is None else _subscription(row)

    def sealed_secret(self, subscription_id: str) -> str | None:
        value = self.connection.execute(select(_s.secret).where(_s.subscription_id == subscription_id)).scalar()
        return None if value is None else str(value)

    def subscriptions(self, *, partner_id: str | None, limit: int, offset: int) -> list[SubscriptionRecord]:
        """Oldest first; of one partner when `partner_id` is not None."""
        check(0 < limit <= PAGE_MAX and offset >= 0, "a bounded page")
        query = (select(webhook_subscriptions).order_by(_s.created_at, _s.subscription_id)
                 .limit(limit).offset(offset))
        if partner_id is not None:
            query = query.where(_s.partner_id == partner_id)
        return [_subscription(r) for r in self.connection.execute(query)]

    def deactivate(self, subscription_id: str, *, at: datetime) -> None:
        """Idempotent: an inactive subscription keeps its first deactivation time."""
        self.connection.execute(update(webhook_subscriptions)
                                .where(_s.subscription_id == subscription_id, _s.active.is_(True))
                                .values(active=False, deactivated_at=at))

    def active_subscriptions(self, limit: int = SUBSCRIPTIONS_MAX) -> list[Subscription]:
        query = (select(_s.subscription_id, _s.partner_id, _s.url, _s.event_types, _s.active)
                 .where(_s.active.is_(True)).order_by(_s.subscription_id).limit(limit))
        return [Subscription(r.subscription_id, r.partner_id, r.url, tuple(r.event_types), r.active)
                for r in self.connection.execute(query)]

    # --- the fan-out's reads of other contexts ------------------------------------------------------

    def owners(self, events: Sequence[DomainEvent]) -> dict[tuple[str, str], str]:
        """(aggregate type, id) → the partner who brought it ('' when none); one query per aggregate type."""
        app_ids, loans = application_ids(events), loan_ids(events)
        owners: dict[tuple[str, str], str] = {}
        if app_ids:
            a = applications.c
            for r in self.connection.execute(select(a.application_id, a.partner_id)
                                             .where(a.application_id.in_(app_ids))):
                owners[("application", r.application_id)] = r.partner_id
        if loans:
            p = api_loan_partners.c
            for r in self.connection.execute(select(p.loan_id, p.partner_id).where(p.loan_id.in_(loans))):
                owners[("loan", r.loan_id)] = r.partner_id
        return owners

    def references(self, events: Sequence[DomainEvent]) -> dict[tuple[str, str], str]:
        """(aggregate type, book id) → the partner's own id for it, where they differ (a partner names its
        applications in its own namespace: routes_origination); a partner is sent its own id."""
        app_ids = application_ids(events)
        if not app_ids:
            return {}
        a = applications.c
        query = select(a.application_id, a.reference).where(a.application_id.in_(app_ids), a.reference != "",
                                                            a.reference != a.application_id)
        return {("application", r.application_id): r.reference for r in self.connection.execute(query)}

    # --- deliveries ---------------------------------------------------------------------------------

    def add_deliveries(self, planned: Sequence[PlannedDelivery], *, now: datetime) -> None:
        """Insert as pending, due now; a delivery already there is left alone (a second dispatcher that
        read the same pending events inserts nothing twice)."""
        if not planned:
            return
        rows = [{"delivery_id": p.delivery_id, "event_id": p.event_id, "subscription_id": p.subscription_id,
                 "event_type": p.event_type, "event": p.event, "status": PENDING, "attempts": 0,
                 "next_attempt_at": now, "last_status_code": None, "last_error": "", "created_at": now,
                 "updated_at": now, "delivered_at": None} for p in planned]
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        self.connection.execute(dialect.insert(webhook_deliveries).on_conflict_do_nothing(), rows)

    def due(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Pending deliveries whose attempt is due, oldest due first, with their subscription's send data."""
        check(0 < limit <= PAGE_MAX, "a bounded batch")
        query = (select(_d.delivery_id, _d.subscription_id, _d.event_type, _d.event, _d.attempts,
                        _d.next_attempt_at, _s.url, _s.secret, _s.active)
                 .join(webhook_subscriptions, _s.subscription_id == _d.subscription_id)
                 .where(_d.status == PENDING, _d.next_attempt_at <= now)
                 .order_by(_d.next_attempt_at, _d.delivery_id).limit(limit))
        return [DueDelivery(r.delivery_id, r.subscription_id, r.event_type, dict(r.event), int(r.attempts),
                            r.next_attempt_at, r.url, r.secret, bool(r.active))
                for r in self.connection.execute(query)]

    def claim(self, delivery_id: str, *, due_at: datetime, lease_until: datetime, now: datetime) -> bool:
        """Take the attempt by moving next_attempt_at from `due_at` (compare-and-set): one dispatcher wins it."""
        claimed = self.connection.execute(update(webhook_deliveries)
                                          .where(_d.delivery_id == delivery_id, _d.status == PENDING,
                                                 _d.next_attempt_at == due_at)
                                          .values(next_attempt_at=lease_until, updated_at=now))
        return int(claimed.rowcount) == 1

    def record_outcome(self, delivery_id: str, outcome: AttemptOutcome) -> None:
        values: dict[str, Any] = {"attempts": outcome.attempts, "last_status_code": outcome.last_status_code,
                                  "last_error": outcome.last_error, "updated_at": outcome.updated_at}
        if outcome.status is not None:
            values["status"] = outcome.status
        if outcome.delivered_at is not None:
            values["delivered_at"] = outcome.delivered_at
        if outcome.next_attempt_at is not None:
            values["next_attempt_at"] = outcome.next_attempt_at
        self._update(delivery_id, values)

    def mark_dead(self, delivery_id: str, *, status: str, error: str, now: datetime) -> None:
        """Give up on a delivery without an attempt (its subscription was deactivated after the fan-out)."""
        self._update(delivery_id, {"status": status, "last_error": error, "updated_at": now})

    def requeue(self, delivery_id: str, *, at: datetime) -> None:
        """Pending again, due at `at`, with a fresh attempt budget."""
        self._update(delivery_id, {"status": PENDING, "attempts": 0, "next_attempt_at": at, "updated_at": at,
                                   "delivered_at": None})

    def _update(self, delivery_id: str, values: dict[str, Any]) -> None:
        self.connection.execute(update(webhook_deliveries).where(_d.delivery_id == delivery_id).values(**values))

    def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = self.connection.execute(select(webhook_deliveries).where(_d.delivery_id == delivery_id)).first()
        return None if row is None else _delivery(row)

    def delivery_owner(self, delivery_id: str) -> DeliveryOwner | None:
        found = self.connection.execute(select(_s.partner_id, _s.active)
                                        .join(webhook_deliveries, _s.subscription_id == _d.subscription_id)
                                        .where(_d.delivery_id == delivery_id)).first()
        return None if found is None else DeliveryOwner(found.partner_id, bool(found.active))

    def deliveries(self, *, status: str | None, partner_id: str | None, limit: int,
                   offset: int = 0) -> list[DeliveryRecord]:
        """Newest change first; of one partner's subscriptions when `partner_id` is not None."""
        check(0 < limit <= PAGE_MAX and offset >= 0, "a bounded page")
        query = (select(webhook_deliveries).order_by(_d.updated_at.desc(), _d.delivery_id)
                 .limit(limit).offset(offset))
        if status is not None:
            query = query.where(_d.status == status)
        if partner_id is not None:
            query = query.join(webhook_subscriptions, _s.subscription_id == _d.subscription_id).where(
                _s.partner_id == partner_id)
        return [_delivery(r) for r in self.connection.execute(query)]


def _subscription(row: Row[Any]) -> SubscriptionRecord:
    r = row._mapping
    return SubscriptionRecord(r["subscription_id"], r["partner_id"], r["url"], tuple(r["event_types"]),
                              bool(r["active"]), r["created_at"], r["deactivated_at"])


def _delivery(row: Row[Any]) -> DeliveryRecord:
    r = row._mapping
    return DeliveryRecord(r["delivery_id"], r["event_id"], r["subscription_id"], r["event_type"], r["status"],
                          r["attempts"], r["next_attempt_at"], r["last_status_code"], r["last_error"],
                          r["created_at"], r["updated_at"], r["delivered_at"])
