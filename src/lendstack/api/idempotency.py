"""HTTP idempotency: the first successful response per (API key, Idempotency-Key) is kept and
replayed byte-for-byte on a retry; the same key with another method, path or body is a 409.

Money-moving services are idempotent by key themselves (in the same transaction as the posting),
so even two identical requests racing past this record apply once: the service returns the
first result to the second. This layer adds the same guarantee for every other create."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.store.tables_api import api_idempotency

KEY_LENGTH_MAX = 100  # leaves room for the key id prefix within the service layer's 128

IdempotencyKey = Header(alias="Idempotency-Key", min_length=1, max_length=KEY_LENGTH_MAX, pattern=r"^[!-~]+$",
                        description="Required on every create or money move; a retry returns the first response.")


def service_key(principal: Principal, key: str) -> str:
    # Two partners may both pick "abc": the service layer's keys are global, so namespace them.
    return f"{principal.key_id}:{key}"


def _hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _first(engine: Engine, principal: Principal, key: str) -> Any:
    c = api_idempotency.c
    with engine.connect() as conn:
        return conn.execute(select(c.request_hash, c.status, c.body)
                            .where(c.key_id == principal.key_id, c.idempotency_key == key)).first()


def _remember(engine: Engine, principal: Principal, key: str, method: str, path: str, digest: str,
              status: int, body: Any) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(insert(api_idempotency).values(
                key_id=principal.key_id, idempotency_key=key, method=method, path=path, request_hash=digest,
                status=status, body=body, created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # a racing twin stored it first; the service layer made both responses identical


def replayable(engine: Engine, principal: Principal, key: str, method: str, path: str, body: Any,
               run: Callable[[], tuple[int, Any]]) -> JSONResponse:
    """Replay the first response for this key, or run the command and keep its (successful) response."""
    digest = _hash(method, path, body)
    first = _first(engine, principal, key)
    if first is not None:
        if first.request_hash != digest:
            raise Problem(409, "idempotency-conflict", "this Idempotency-Key was used with another request",
                          field="Idempotency-Key")
        return JSONResponse(first.body, status_code=first.status, headers={"Idempotent-Replayed": "true"})
    status, response = run()
    _remember(engine, principal, key, method, path, digest, status, response)
    return JSONResponse(response, status_code=status)
