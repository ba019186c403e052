"""The transactional outbox: domain events written in the same transaction as the state change,
published later (in `seq` order) by a relay that marks them published. If the transaction rolls
back, its events vanish with it; if it commits, they are guaranteed to be published."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from lendstack.events import DomainEvent
from lendstack.store.tables import outbox

PENDING_LIMIT_DEFAULT = 100
_INSERT = insert(outbox)  # built once: every state change writes here
_LAST_SEQ = select(func.coalesce(func.max(outbox.c.seq), 0))


class Outbox:
    """Append and read the outbox on the caller's connection (inside its transaction)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, event: DomainEvent) -> None:
        self.add_many((event,))

    def add_many(self, events: Iterable[DomainEvent]) -> None:
        rows = [_row(event) for event in events]
        if not rows:
            return
        if self.connection.dialect.name == "sqlite":
            self._number_rows(rows)
        self.connection.execute(_INSERT, rows)

    def _number_rows(self, rows: list[dict[str, Any]]) -> None:
        # SQLite has no identity for non-key columns. Writers are serialized by BEGIN IMMEDIATE,
        # so MAX(seq)+1 read inside this transaction cannot be taken by anyone else.
        last = self.connection.execute(_LAST_SEQ).scalar_one()
        for offset, row in enumerate(rows, start=1):
            row["seq"] = int(last) + offset

    def pending(self, limit: int = PENDING_LIMIT_DEFAULT) -> list[DomainEvent]:
        """The oldest unpublished events, in the order they were written."""
        assert limit > 0
        c = outbox.c
        query = (
            select(c.event_id, c.event_type, c.aggregate_type, c.aggregate_id, c.occurred_at, c.payload)
            .where(c.published_at.is_(None))
            .order_by(c.seq)
            .limit(limit)
        )
        return [DomainEvent(*row[:5], payload=dict(row[5])) for row in self.connection.execute(query)]

    def mark_published(self, event_ids: Sequence[str], at: datetime | None = None) -> int:
        """Mark events published; returns how many were still pending."""
        if not event_ids:
            return 0
        c = outbox.c
        statement = (
            update(outbox)
            .where(c.event_id.in_(list(event_ids)), c.published_at.is_(None))
            .values(published_at=at or datetime.now(UTC))
        )
        return int(self.connection.execute(statement).rowcount)


def _row(event: DomainEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "event_type": event.event_type,
        "payload": event.payload,
    }
