"""Access to the open API as use cases: API keys (made, looked up, revoked, listed), the HTTP
idempotency record (the first response per key), and which partner owns a loan.

The API (`api/keys.py`, `api/idempotency.py`, the routes) keeps the HTTP concerns: headers, status
codes, the per-process key cache. What is stored and how is here and in `store/api_repo.py`.

A key is `lsk_` + 256 random bits, stored only as its SHA-256: a fast hash cannot be brute-forced
over that much entropy, and it lets us find the key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lendstack import text
from lendstack.errors import LendstackError
from lendstack.services.staff import STAFF_ROLES
from lendstack.store import Connection, Engine
from lendstack.store.api_repo import (
    ApiIdempotencyRepository,
    ApiKeyRepository,
    DuplicateRecord,
    KeptResponse,
    KeyRecord,
    LoanListing,
    LoanPartnerRepository,
)
from lendstack.store.db import read_only

__all__ = [
    "KEY_ROLES",
    "PARTNER_ROLE",
    "PREFIX",
    "ApiKeyError",
    "IssuedKey",
    "KeptResponse",
    "KeyRecord",
    "KeySummary",
    "LoanListing",
    "audit_call",
    "create_key",
    "hash_token",
    "kept_response",
    "kept_response_in",
    "key_by_hash",
    "list_keys",
    "loan_page",
    "loans_owned_by",
    "partner_of_loan",
    "remember_response",
    "remember_response_in",
    "revoke_key",
]

PREFIX = "lsk_"
PARTNER_ROLE = "partner"
KEY_ROLES = (*STAFF_ROLES, PARTNER_ROLE)  # the API's roles (api/permissions.py checks it is the same list)
LABEL_LENGTH_MAX = 200  # a note on who holds the key
PARTNER_ID_LENGTH_MAX = 64


class ApiKeyError(LendstackError):
    """A key that cannot be made as asked; `field` names the input."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    token: str  # the only time the secret exists outside the caller's hands
    role: str
    partner_id: str


@dataclass(frozen=True, slots=True)
class KeySummary:
    """A key as listed to admins and auditors (never its hash)."""

    key_id: str
    role: str
    partner_id: str
    label: str
    created_at: datetime
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "role": self.role, "partner_id": self.partner_id, "label": self.label,
                "created_at": self.created_at.isoformat(), "revoked": self.revoked}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- keys


def create_key(engine: Engine, role: str, *, partner_id: str = "", label: str = "") -> IssuedKey:
    if role not in KEY_ROLES:
        raise ApiKeyError("role", f"must be one of {', '.join(KEY_ROLES)}, got {role!r}")
    if (role == PARTNER_ROLE) != bool(partner_id):
        raise ApiKeyError("partner_id", "a partner key needs a partner id, and only a partner key has one")
    try:  # shown to admins in key lists and the audit report
        label = text.clean_name(label, field="label", length_max=LABEL_LENGTH_MAX)
        partner_id = text.clean_name(partner_id, field="partner_id", length_max=PARTNER_ID_LENGTH_MAX)
    except text.TextError as exc:
        raise ApiKeyError(exc.field, exc.message) from None
    key_id = "k_" + secrets.token_hex(6)
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        ApiKeyRepository(conn).add(key_id=key_id, key_hash=hash_token(token), role=role, partner_id=partner_id,
                                   label=label, created_at=datetime.now(UTC))
    return IssuedKey(key_id, token, role, partner_id)


def key_by_hash(engine: Engine, key_hash: str) -> KeyRecord | None:
    """The key with this token hash (revoked ones too: the caller refuses them), read without the write lock."""
    with read_only(engine) as conn:
        return ApiKeyRepository(conn).by_hash(key_hash)


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke; False if there is no such key. Revoking twice keeps the first revocation time."""
    with engine.begin() as conn:
        return ApiKeyRepository(conn).revoke(key_id, datetime.now(UTC))


def list_keys(engine: Engine, limit: int, offset: int) -> list[KeySummary]:
    with engine.connect() as conn:
        found = ApiKeyRepository(conn).page(limit, offset)
    return [KeySummary(k.key_id, k.role, k.partner_id, k.label, k.created_at, k.revoked_at is not None)
            for k in found]


# --------------------------------------------------------------------------- HTTP idempotency


def kept_response_in(connection: Connection, key_id: str, key: str) -> KeptResponse | None:
    """The kept first response for (key id, Idempotency-Key), read in the caller's transaction."""
    return ApiIdempotencyRepository(connection).first(key_id, key)


def kept_response(engine: Engine, key_id: str, key: str) -> KeptResponse | None:
    """The kept first response, read without the write lock (a retry does no work)."""
    with read_only(engine) as conn:
        return kept_response_in(conn, key_id, key)


def remember_response_in(connection: Connection, key_id: str, key: str, method: str, path: str, digest: str,
                         status: int, body: Any) -> None:
    """Keep the first response, in the caller's transaction (the one that made the change)."""
    ApiIdempotencyRepository(connection).remember(key_id=key_id, key=key, method=method, path=path,
                                                  request_hash=digest, status=status, body=body, at=datetime.now(UTC))


def remember_response(engine: Engine, key_id: str, key: str, method: str, path: str, digest: str, status: int,
                      body: Any) -> None:
    """Keep the first response in a transaction of its own; a racing twin's record, kept first, stays."""
    try:
        with engine.begin() as conn:
            remember_response_in(conn, key_id, key, method, path, digest, status, body)
    except DuplicateRecord:
        pass  # a racing twin stored it first; the service layer made both responses identical


# --------------------------------------------------------------------------- the audit trail


def audit_call(engine: Engine, write: Callable[[Connection], None]) -> None:
    """Write one call's audit row (`write`, e.g. the API's audit_in over services/staff.py
    record_action) in a transaction of its own, committed on return."""
    with engine.begin() as conn:
        write(conn)


# --------------------------------------------------------------------------- loans by partner


def partner_of_loan(engine: Engine, loan_id: str) -> str | None:
    """The partner that brought the loan, or None (a staff-booked loan, or no such loan)."""
    with engine.connect() as conn:
        return LoanPartnerRepository(conn).partner_of(loan_id)


def loans_owned_by(engine: Engine, partner_id: str, loan_ids: set[str]) -> set[str]:
    """Those of `loan_ids` that `partner_id` brought."""
    with engine.connect() as conn:
        return LoanPartnerRepository(conn).owned_by(partner_id, loan_ids)


def loan_page(engine: Engine, partner_id: str, status: str | None, limit: int, offset: int) -> list[LoanListing]:
    """A page of loans by id: the book's ('' partner), or only those `partner_id` brought."""
    with engine.connect() as conn:
        return LoanPartnerRepository(conn).page(partner_id, status, limit, offset)

