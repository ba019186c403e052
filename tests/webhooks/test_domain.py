"""Webhook rules without I/O: event types, who receives which event, ids, the views' JSON, the error's kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lendstack.errors import ErrorKind, LendstackError
from lendstack.events import DomainEvent
from lendstack.webhooks import domain
from lendstack.webhooks.domain import Subscription, WebhookError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def event(event_type: str, aggregate_type: str, aggregate_id: str) -> DomainEvent:
    return DomainEvent.new(event_type, aggregate_type, aggregate_id, {"id": aggregate_id}, occurred_at=T0)


def test_event_types_are_checked_sorted_and_deduplicated() -> None:
    assert domain.check_types(["loan.repaid", "loan.booked", "loan.repaid"]) == ("loan.booked", "loan.repaid")
    for bad in ([], ["loan.exploded"], ["loan.repaid", "nope"]):
        with pytest.raises(WebhookError) as caught:
            domain.check_types(bad)
        assert caught.value.field == "event_types" and caught.value.kind == ErrorKind.INVALID


def test_the_error_is_a_lendstack_error_with_a_kind() -> None:
    assert issubclass(WebhookError, LendstackError)
    old = WebhookError("delivery_id", "unknown delivery 'x'", not_found=True)
    assert old.kind == ErrorKind.NOT_FOUND and old.not_found and str(old) == "delivery_id: unknown delivery 'x'"
    assert domain.unknown("subscription_id", "subscription", "ws_1").kind == ErrorKind.NOT_FOUND
    assert WebhookError("x", "y", kind=ErrorKind.CONFLICT).kind == ErrorKind.CONFLICT
    assert not WebhookError("url", "bad").not_found


def test_someone_elses_id_is_unknown() -> None:
    domain.check_owner("p1", None, "subscription_id", "subscription", "ws_1")  # staff see all
    domain.check_owner("p1", "p1", "subscription_id", "subscription", "ws_1")
    with pytest.raises(WebhookError) as caught:
        domain.check_owner("p1", "p2", "subscription_id", "subscription", "ws_1")
    assert caught.value.kind == ErrorKind.NOT_FOUND and caught.value.message == "unknown subscription 'ws_1'"


def test_delivery_ids_are_derived_and_distinct() -> None:
    a = domain.delivery_id_for("e1", "ws_1")
    assert a == domain.delivery_id_for("e1", "ws_1") and a.startswith("wd_") and len(a) == 27
    assert len({a, domain.delivery_id_for("e1", "ws_2"), domain.delivery_id_for("e2", "ws_1")}) == 3
    assert domain.new_subscription_id().startswith("ws_")


def test_fan_out_plan_by_type_owner_and_the_partners_own_id() -> None:
    staff = Subscription("ws_a", "", "https://a.example", ("application.decided", "loan.repaid"), True)
    p1 = Subscription("ws_p1", "p1", "https://p1.example", ("application.decided", "loan.repaid"), True)
    off = Subscription("ws_off", "p1", "https://p1.example", ("loan.repaid",), False)
    events = [event("loan.repaid", "loan", "L1"), event("application.decided", "application", "APP1"),
              event("loan.overdue", "loan", "L2")]
    owners = {("loan", "L1"): "p1", ("application", "APP1"): "p1"}
    planned = domain.plan_deliveries(events, [staff, p1, off], owners, {("application", "APP1"): "MINE-1"})
    got = [(p.subscription_id, p.event_type, p.event["aggregate_id"]) for p in planned]
    assert got == [("ws_a", "loan.repaid", "L1"), ("ws_p1", "loan.repaid", "L1"),
                   ("ws_a", "application.decided", "APP1"),  # staff see the book's id
                   ("ws_p1", "application.decided", "MINE-1")]  # a partner its own
    assert all(p.delivery_id == domain.delivery_id_for(p.event_id, p.subscription_id) for p in planned)
    assert domain.plan_deliveries(events, [p1], {}) == []  # nothing of p1's


def test_views_render_the_api_json() -> None:
    record = domain.SubscriptionRecord("ws_1", "p1", "https://a.example", ("loan.repaid",), True, T0, None)
    assert record.to_json() == {"subscription_id": "ws_1", "partner_id": "p1", "url": "https://a.example",
                                "event_types": ["loan.repaid"], "active": True,
                                "created_at": "2026-03-01T09:00:00+00:00", "deactivated_at": None}
    created = domain.CreatedSubscription(record, "whsec_x")
    assert created.subscription_id == "ws_1" and list(created.to_json()) == [*record.to_json(), "secret"]
    delivery = domain.DeliveryRecord("wd_1", "e1", "ws_1", "loan.repaid", "pending", 0, T0, None, "", T0, T0, None)
    assert delivery.to_json()["next_attempt_at"] == "2026-03-01T09:00:00+00:00"
    assert delivery.to_json()["delivered_at"] is None
    assert list(delivery.to_json()) == ["delivery_id", "event_id", "subscription_id", "event_type", "status",
                                        "attempts", "next_attempt_at", "last_status_code", "last_error",
                                        "created_at", "updated_at", "delivered_at"]
