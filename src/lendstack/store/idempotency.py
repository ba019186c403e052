"""Idempotency keys: a retried money-moving command returns its first result and does nothing
twice. The key is stored with a hash of the request body, so reusing a key for a different
request is refused instead of silently returning someone else's result.

Typical use, inside one UnitOfWork:

    cached = uow.idempotency.lookup("loan.repay", key, body)
    if cached is not None:
        return cached
    response = ...do the work...
    uow.idempotency.record("loan.repay", key, body, response)

Two concurrent first attempts with one key: the second `record` fails on the primary key, its
transaction rolls back, and its retry finds the first one's response.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from lendstack.errors import ErrorKind, LendstackError
from lendstack.store.tables import idempotency_keys

KEY_LENGTH_MAX = 255


class IdempotencyError(LendstackError):
    """Bad use of an idempotency key; names the field like the domain errors do."""


class IdempotencyConflict(IdempotencyError):
    """The key was already used with a different request body."""

    kind = ErrorKind.CONFLICT
    code = "idempotency-conflict"


def request_hash(request: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a request: key order and whitespace do not matter."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IdempotencyStore:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lookup(self, scope: str, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The first response for this key, or None if the key is new."""
        _check_key(scope, key)
        c = idempotency_keys.c
        row = self.connection.execute(
            select(c.request_hash, c.response).where(c.scope == scope, c.key == key)
        ).first()
        if row is None:
            return None
        if row[0] != request_hash(request):
            raise IdempotencyConflict(
                "idempotency_key", f"key {key!r} was already used for a different {scope} request"
            )
        response: dict[str, Any] = row[1]
        return response

    def record(self, scope: str, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Remember the response of the first execution (in the same transaction as its effects)."""
        _check_key(scope, key)
        self.connection.execute(
            insert(idempotency_keys).values(
                scope=scope,
                key=key,
                request_hash=request_hash(request),
                response=response,
                created_at=datetime.now(UTC),
            )
        )


def _check_key(scope: str, key: str) -> None:
    assert scope, "an idempotency scope names the command"
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_LENGTH_MAX:
        raise IdempotencyError(
            "idempotency_key", f"must be a non-empty string of at most {KEY_LENGTH_MAX} chars"
        )
