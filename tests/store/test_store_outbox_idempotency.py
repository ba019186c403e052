"""Outbox and idempotency keys, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lendstack.events import DomainEvent
from lendstack.store import IdempotencyConflict, IdempotencyError, UnitOfWork
from lendstack.store.idempotency import request_hash

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))


def event(n: int) -> DomainEvent:
    return DomainEvent(
        f"ev{n}", "loan.repaid", "loan", f"L{n % 2}", T0 + timedelta(minutes=n), {"n": n, "x": [1]}
    )


def test_outbox_keeps_order_and_marks_published(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        u.outbox.add(event(3))
        u.outbox.add_many([event(1), event(2)])
    with uow() as u:
        u.outbox.add(event(0))
    with uow() as u:
        pending = u.outbox.pending(limit=10)
        assert [e.event_id for e in pending] == ["ev3", "ev1", "ev2", "ev0"]  # write order, not time
        assert pending[0] == event(3)
        assert pending[0].occurred_at.tzinfo is not None and pending[0].occurred_at.utcoffset() == timedelta(
            0
        )
        assert u.outbox.mark_published(["ev3", "ev1", "nope"]) == 2
    with uow() as u:
        assert [e.event_id for e in u.outbox.pending(limit=1)] == ["ev2"]
        assert u.outbox.mark_published(["ev3"]) == 0


def test_outbox_event_rolls_back_with_its_transaction(uow: Callable[[], UnitOfWork]) -> None:
    with pytest.raises(RuntimeError), uow() as u:
        u.outbox.add(event(1))
        raise RuntimeError("the state change failed")
    with uow() as u:
        assert u.outbox.pending() == []


def test_idempotency_returns_first_response_and_refuses_other_bodies(uow: Callable[[], UnitOfWork]) -> None:
    body = {"loan_id": "L1", "amount_minor": 500, "on": datetime(2025, 1, 1, tzinfo=UTC)}
    with uow() as u:
        assert u.idempotency.lookup("loan.repay", "k1", body) is None
        u.idempotency.record("loan.repay", "k1", body, {"entry_id": "e9", "amounts": [1, 2]})
    with uow() as u:
        same_body_reordered = dict(reversed(list(body.items())))
        assert u.idempotency.lookup("loan.repay", "k1", same_body_reordered) == {
            "entry_id": "e9",
            "amounts": [1, 2],
        }
        assert u.idempotency.lookup("loan.disburse", "k1", body) is None  # keys are per scope
        with pytest.raises(IdempotencyConflict) as caught:
            u.idempotency.lookup("loan.repay", "k1", {**body, "amount_minor": 501})
        assert caught.value.field == "idempotency_key" and isinstance(caught.value, ValueError)
        with pytest.raises(IdempotencyError):
            u.idempotency.lookup("loan.repay", "  ", body)


def test_request_hash_is_canonical() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": "1"})
    assert len(request_hash({})) == 64
