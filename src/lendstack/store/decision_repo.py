"""Decisions, policies, champion/challenger assignments and the review queue in the database.
Writes go on the caller's connection (inside its UnitOfWork) and never commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from lendstack.errors import LendstackError
from lendstack.store.tables_decisioning import decision_assignments, decision_policies, decisions, review_queue


@dataclass(frozen=True)
class StoredDecision:
    application_id: str
    arm: str
    outcome: str
    input: dict[str, Any]
    decision: dict[str, Any]
    policy_id: str
    policy_version: str
    policy_hash: str
    model_version: str
    model_hash: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    application_id: str
    status: str
    assignee: str
    action: str
    note: str
    counter_offer: dict[str, Any] | None
    history: list[dict[str, Any]]


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# The statements of every decision, built once: building and hashing a statement per call cost
# more than running it. Values go in as parameters.
_d = decisions.c
_POLICY_HASH = select(decision_policies.c.content_hash).where(
    decision_policies.c.policy_id == bindparam("policy_id"), decision_policies.c.version == bindparam("version"))
_INSERT_DECISION = insert(decisions)
_EXISTS = select(_d.id).where(_d.application_id == bindparam("application_id")).limit(1)


def _exposure_sum(column: Any, name: str) -> Any:
    # Served by the (column, acting, exposure_minor) index of migration 0011, without the table.
    return select(func.coalesce(func.sum(_d.exposure_minor), 0)).where(
        _d.acting.is_(True), column == bindparam(name)).scalar_subquery()


# One statement, three indexed sums: a round trip each cost more than the sum itself.
_EXPOSURE = select(_exposure_sum(_d.applicant_id, "applicant"), _exposure_sum(_d.household_key, "household"),
                   _exposure_sum(_d.segment, "segment"))


class DecisionRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ------------------------------------------------------------------ policies

    def save_policy(self, policy_id: str, version: str, content_hash: str,
                    document: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Store a policy version once; the same version with another hash is refused (versions are immutable).

        `document` may be a function: it is then called only when the version is new (making the
        canonical document costs more than the lookup, and nearly every decision finds it stored)."""
        known = self.connection.execute(_POLICY_HASH, {"policy_id": policy_id, "version": version}
                                        ).scalar_one_or_none()
        if known is None:
            self.connection.execute(insert(decision_policies).values(
                policy_id=policy_id, version=version, content_hash=content_hash,
                document=document() if callable(document) else document, created_at=_now(None)))
        elif known != content_hash:
            raise LendstackError("policy", f"{policy_id}@{version} is already stored with another content hash; "
                                 "bump the version")

    def policy_document(self, policy_id: str, version: str) -> tuple[str, dict[str, Any]] | None:
        c = decision_policies.c
        row = self.connection.execute(select(c.content_hash, c.document).where(
            c.policy_id == policy_id, c.version == version)).first()
        return None if row is None else (str(row.content_hash), dict(row.document))

    # ------------------------------------------------------------------ decisions

    def add(self, row: dict[str, Any], *, now: datetime | None = None) -> None:
        self.connection.execute(_INSERT_DECISION, {**row, "created_at": _now(now)})

    def exposure(self, applicant_id: str, household_key: str, segment: str) -> tuple[int, int, int]:
        """Approved exposure (acting decisions) of the applicant, the household and the segment."""
        row = self.connection.execute(_EXPOSURE, {"applicant": applicant_id, "household": household_key,
                                                  "segment": segment}).one()
        applicant, household, in_segment = (int(value) for value in row)
        assert min(applicant, household, in_segment) >= 0, "exposure is a sum of non-negative amounts"
        return applicant, household, in_segment

    def exists(self, application_id: str) -> bool:
        return self.connection.execute(_EXISTS, {"application_id": application_id}).first() is not None

    def get(self, application_id: str, arm: str | None = None) -> StoredDecision | None:
        """The acting decision (or the given arm's)."""
        c = decisions.c
        query = select(decisions).where(c.application_id == application_id)
        query = query.where(c.arm == arm) if arm else query.where(c.acting.is_(True))
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return StoredDecision(row.application_id, row.arm, row.outcome, dict(row.input), dict(row.decision),
                              row.policy_id, row.policy_version, row.policy_hash, row.model_version, row.model_hash,
                              row.created_at)

    def list_pairs(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(acting, shadow) decision documents of applications decided in shadow mode."""
        c = decisions.c
        acting = {r.application_id: dict(r.decision) for r in self.connection.execute(
            select(c.application_id, c.decision).where(c.acting.is_(True)))}
        shadow = self.connection.execute(select(c.application_id, c.decision).where(c.arm == "shadow"))
        return [(acting[r.application_id], dict(r.decision)) for r in shadow if r.application_id in acting]

    def assign(self, application_id: str, experiment: str, arm: str, mode: str) -> None:
        self.connection.execute(insert(decision_assignments).values(
            application_id=application_id, experiment=experiment, arm=arm, mode=mode, created_at=_now(None)))

    # ------------------------------------------------------------------ review queue

    def enqueue(self, application_id: str, reason: str, *, now: datetime | None = None) -> None:
        at = _now(now)
        history = [{"at": at.isoformat(), "by": "system", "event": "referred", "note": reason}]
        self.connection.execute(insert(review_queue).values(
            application_id=application_id, status="open", history=history, created_at=at, updated_at=at))

    def review(self, application_id: str) -> ReviewItem | None:
        query = select(review_queue).where(review_queue.c.application_id == application_id)
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return ReviewItem(row.application_id, row.status, row.assignee, row.action, row.note,
                          None if row.counter_offer is None else dict(row.counter_offer), list(row.history))

    def reviews(self, status: str | None = None) -> list[ReviewItem]:
        query = select(review_queue.c.application_id).order_by(review_queue.c.created_at, review_queue.c.application_id)
        if status:
            query = query.where(review_queue.c.status == status)
        found = [self.review(str(app_id)) for (app_id,) in self.connection.execute(query)]
        return [item for item in found if item is not None]

    def update_review(
        self, item: ReviewItem, event: dict[str, Any], *, now: datetime | None = None, **values: Any
    ) -> None:
        at = _now(now)
        history = [*item.history, {"at": at.isoformat(), **event}]
        self.connection.execute(update(review_queue).where(review_queue.c.application_id == item.application_id)
                                .values(**values, history=history, updated_at=at))
