"""WebhookRepository on SQLite and PostgreSQL: frozen types out, idempotent fan-out inserts, the claim's
compare-and-set, outcomes, partner-scoped reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from lendstack.events import DomainEvent
from lendstack.store.tables_api import api_loan_partners
from lendstack.webhooks.domain import (
    DEAD,
    DELIVERED,
    PENDING,
    DeliveryOwner,
    PlannedDelivery,
    SubscriptionRecord,
    delivery_id_for,
)
from lendstack.webhooks.repository import WebhookRepository
from lendstack.webhooks.retry import outcome_of

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def record(subscription_id: str, partner_id: str, *, at: datetime = T0) -> SubscriptionRecord:
    return SubscriptionRecord(subscription_id, partner_id, "https://hooks.example/in", ("loan.repaid",), True, at, None)


def planned(event_id: str, subscription_id: str) -> PlannedDelivery:
    return PlannedDelivery(delivery_id_for(event_id, subscription_id), event_id, subscription_id, "loan.repaid",
                           {"event_id": event_id})


def test_subscriptions_round_trip_and_deactivate(engine: Engine) -> None:
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        repo.add_subscription(record("ws_1", "p1"), sealed_secret="sealed-1", created_by="k1")
        repo.add_subscription(record("ws_2", "p2", at=T0 + timedelta(seconds=1)), sealed_secret="sealed-2",
                              created_by="")
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        assert repo.subscription("ws_1") == record("ws_1", "p1")
        assert repo.subscription("ws_nope") is None
        assert repo.sealed_secret("ws_2") == "sealed-2" and repo.sealed_secret("ws_nope") is None
        assert [s.subscription_id for s in repo.subscriptions(partner_id=None, limit=10, offset=0)] == ["ws_1",
                                                                                                      "ws_2"]
        assert [s.subscription_id for s in repo.subscriptions(partner_id="p2", limit=10, offset=0)] == ["ws_2"]
        assert [s.subscription_id for s in repo.subscriptions(partner_id=None, limit=1, offset=1)] == ["ws_2"]
        repo.deactivate("ws_1", at=T0 + timedelta(hours=1))
        repo.deactivate("ws_1", at=T0 + timedelta(hours=2))  # idempotent: the first time is kept
        gone = repo.subscription("ws_1")
        assert gone is not None and not gone.active and gone.deactivated_at == T0 + timedelta(hours=1)
        assert [s.subscription_id for s in repo.active_subscriptions()] == ["ws_2"]


def test_deliveries_insert_once_claim_once_and_record(engine: Engine) -> None:
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        repo.add_subscription(record("ws_1", "p1"), sealed_secret="sealed-1", created_by="")
        repo.add_deliveries([planned("e1", "ws_1"), planned("e2", "ws_1")], now=T0)
        repo.add_deliveries([planned("e1", "ws_1")], now=T0 + timedelta(hours=1))  # a racing fan-out: nothing new
        repo.add_deliveries([], now=T0)
    with engine.begin() as conn:
        repo = WebhookRepository(conn)
        due = repo.due(T0, 10)
        assert [d.event["event_id"] for d in due] == sorted(["e1", "e2"], key=lambda e: delivery_id_for(e, "ws_1"))
        first = due[0]
        assert (first.url, first.sealed_secret, first.active, first.attempts) == (
            "https://hooks.example/in", "sealed-1", True, 0)
        assert repo.due(T0 - timedelta(seconds=1), 10) == []
        lease = T0 + timedelta(seconds=60)
        assert repo.claim(first.delivery_id, due_at=first.next_attempt_at, lease_until=lease, now=T0)
        assert not repo.claim(first.delivery_id, due_at=first.next_attempt_at, lease_until=lease, now=T0)
        repo.record_outcome(first.delivery_id, outcome_of(first.delivery_id, 0, 200, "", T0))
        repo.mark_dead(due[1].delivery_id, status=DEAD, error="subscription deactivated", now=T0)
        done, dead = repo.delivery(first.delivery_id), repo.delivery(due[1].delivery_id)
        assert done is not None and (done.status, done.attempts, done.delivered_at, done.last_status_code) == (
            DELIVERED, 1, T0, 200)
        assert done.next_attempt_at == lease  # a delivered attempt leaves the claim's time
        assert dead is not None and (dead.status, dead.last_error) == (DEAD, "subscription deactivated")
        assert [d.delivery_id for d in repo.deliveries(status=DEAD, partner_id="p1", limit=10)] == [dead.delivery_id]
        assert repo.deliveries(status=None, partner_id="p2", limit=10) == []
        assert repo.delivery_owner(dead.delivery_id) == DeliveryOwner("p1", True)
        assert repo.delivery_owner("wd_nope") is None and repo.delivery("wd_nope") is None
        again = T0 + timedelta(days=1)
        repo.requeue(dead.delivery_id, at=again)
        requeued = repo.delivery(dead.delivery_id)
        assert requeued is not None and (requeued.status, requeued.attempts, requeued.next_attempt_at) == (
            PENDING, 0, again)


def test_owners_and_references_of_events(engine: Engine) -> None:
    events = [DomainEvent.new("loan.repaid", "loan", "L1", occurred_at=T0),
              DomainEvent.new("loan.repaid", "loan", "L2", occurred_at=T0)]
    with engine.begin() as conn:
        conn.execute(insert(api_loan_partners).values(loan_id="L1", partner_id="p1"))
        repo = WebhookRepository(conn)
        assert repo.owners(events) == {("loan", "L1"): "p1"}
        assert repo.references(events) == {}  # loans are named by the book
        assert repo.owners([]) == {}
