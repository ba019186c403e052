"""The open API's own tables: API keys (hashed), the HTTP idempotency record (the first response per
key) and which partner brought which loan; and the partner-scoped listing of loans.

Writes go on the caller's connection (inside its transaction) and never commit. The statements of
the hot path (a key lookup, an idempotency lookup) are built once; values go in as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from lendstack.invariants import check
from lendstack.store.tables import loans
from lendstack.store.tables_api import api_idempotency, api_keys, api_loan_partners

# A unique key taken by a racing twin (PostgreSQL: both passed the check before either committed).
# Re-exported so that a service can catch it without importing SQLAlchemy.
DuplicateRecord = IntegrityError

PAGE_LIMIT_MAX = 1_000  # rows per listing page; the API asks for at most 201


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as authentication sees it."""

    key_id: str
    role: str
    partner_id: str  # '' for staff
    revoked: bool


@dataclass(frozen=True, slots=True)
class KeyListing:
    key_id: str
    role: str
    partner_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeptResponse:
    """The first response to (key id, Idempotency-Key) and the digest of the request that made it."""

    request_hash: str
    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class LoanListing:
    loan_id: str
    status: str
    product_id: str
    currency: str
    principal_minor: int
    days_past_due: int
    bucket: str


_k = api_keys.c
_KEY_BY_HASH = select(_k.key_id, _k.role, _k.partner_id, _k.revoked_at).where(_k.key_hash == bindparam("key_hash"))
_INSERT_KEY = insert(api_keys)


class ApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, *, key_id: str, key_hash: str, role: str, partner_id: str, label: str, created_at: datetime) -> None:
        check(bool(key_id) and len(key_hash) == 64, "a key has an id and a SHA-256 hex hash")
        self.connection.execute(_INSERT_KEY, {"key_id": key_id, "key_hash": key_hash, "role": role,
                                              "partner_id": partner_id, "label": label, "created_at": created_at})

    def by_hash(self, key_hash: str) -> KeyRecord | None:
        row = self.connection.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
        if row is None:
            return None
        return KeyRecord(str(row.key_id), str(row.role), str(row.partner_id), row.revoked_at is not None)

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke; False if there is no such key. Revoking twice keeps the first revocation time."""
        exists = self.connection.execute(select(_k.key_id).where(_k.key_id == key_id)).first()
        self.connection.execute(update(api_keys).where(_k.key_id == key_id, _k.revoked_at.is_(None))
                                .values(revoked_at=at))
        return exists is not None

    def page(self, limit: int, offset: int) -> list[KeyListing]:
        check(1 <= limit <= PAGE_LIMIT_MAX and offset >= 0, "a bounded page")
        query = (select(_k.key_id, _k.role, _k.partner_id, _k.label, _k.created_at, _k.revoked_at)
                 .order_by(_k.created_at, _k.key_id).limit(limit).offset(offset))
        return [KeyListing(str(r.key_id), str(r.role), str(r.partner_id), str(r.label), r.created_at, r.revoked_at)
                for r in self.connection.execute(query)]


_i = api_idempotency.c
_FIRST = select(_i.request_hash, _i.status, _i.body).where(_i.key_id == bindparam("key_id"),
                                                           _i.idempotency_key == bindparam("key"))
_INSERT_KEPT = insert(api_idempotency)  # built once; rows go in as parameters


class ApiIdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def first(self, key_id: str, key: str) -> KeptResponse | None:
        row = self.connection.execute(_FIRST, {"key_id": key_id, "key": key}).first()
        return None if row is None else KeptResponse(str(row.request_hash), int(row.status), row.body)

    def remember(self, *, key_id: str, key: str, method: str, path: str, request_hash: str, status: int, body: Any,
                 at: datetime) -> None:
        """Keep the first response; a second for the same (key id, key) raises DuplicateRecord."""
        self.connection.execute(_INSERT_KEPT, {"key_id": key_id, "idempotency_key": key, "method": method,
                                               "path": path, "request_hash": request_hash, "status": status,
                                               "body": body, "created_at": at})


_p = api_loan_partners.c


class LoanPartnerRepository:
    """Which partner brought which loan (a partner sees only its own loans)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def partner_of(self, loan_id: str) -> str | None:
        found = self.connection.execute(select(_p.partner_id).where(_p.loan_id == loan_id)).scalar_one_or_none()
        return None if found is None else str(found)

    def owned_by(self, partner_id: str, loan_ids: set[str]) -> set[str]:
        """Those of `loan_ids` that `partner_id` brought."""
        query = select(_p.loan_id).where(_p.loan_id.in_(sorted(loan_ids)), _p.partner_id == partner_id)
        return {str(loan_id) for loan_id in self.connection.execute(query).scalars()}

    def own(self, loan_id: str, partner_id: str) -> None:
        """Record `partner_id` as the loan's partner, unless the loan already has one (the first stays)."""
        check(bool(loan_id) and bool(partner_id), "a loan and a partner")
        if self.partner_of(loan_id) is None:
            self.connection.execute(insert(api_loan_partners).values(loan_id=loan_id, partner_id=partner_id))

    def page(self, partner_id: str, status: str | None, limit: int, offset: int) -> list[LoanListing]:
        """A page of loans by id ('' partner: the whole book; else only that partner's)."""
        check(1 <= limit <= PAGE_LIMIT_MAX and offset >= 0, "a bounded page")
        c = loans.c
        query = select(c.loan_id, c.status, c.product_id, c.currency, c.principal_minor, c.days_past_due,
                       c.bucket).order_by(c.loan_id)
        if partner_id:
            query = query.join(api_loan_partners, _p.loan_id == c.loan_id).where(_p.partner_id == partner_id)
        if status is not None:
            query = query.where(c.status == status)
        rows = self.connection.execute(query.limit(limit).offset(offset))
        return [LoanListing(r.loan_id, r.status, r.product_id, r.currency, r.principal_minor, r.days_past_due,
                            r.bucket) for r in rows]
