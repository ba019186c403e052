"""Domain events: what happened, written to the outbox in the same transaction as the change.

Domain-neutral on purpose: this module imports nothing from lendstack, so the functional core
(servicing, origination, ...) can return events without importing the store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One fact about one aggregate (a loan, an application, ...). Immutable once made."""

    event_id: str
    event_type: str  # past tense, dotted: "loan.disbursed", "loan.repaid"
    aggregate_type: str  # "loan", "application", ...
    aggregate_id: str
    occurred_at: datetime  # timezone-aware; stored in UTC
    payload: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        assert self.event_id, "an event needs an id"
        assert self.event_type and self.aggregate_type and self.aggregate_id
        assert self.occurred_at.tzinfo is not None, "occurred_at must be timezone-aware"

    @classmethod
    def new(
        cls,
        event_type: str,
        aggregate_type: str,
        aggregate_id: str,
        payload: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> DomainEvent:
        """An event with a fresh random id, occurring now unless told otherwise."""
        return cls(
            event_id=uuid.uuid4().hex,
            event_type=event_type,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            occurred_at=occurred_at or datetime.now(UTC),
            payload=dict(payload or {}),
        )
