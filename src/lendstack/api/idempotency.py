"""HTTP idempotency: the first successful response per (API key, Idempotency-Key) is kept and
replayed byte-for-byte on a retry; the same key with another method, path or body is a 409.

Money-moving services are idempotent by key themselves (in the same transaction as the posting),
so even two identical requests racing past this record apply once: the service returns the
first result to the second. This layer adds the same guarantee for every other create.

`replayable` keeps the record in its own transaction after the command's. A route whose command
runs in a transaction of its own can do better (services/origination.py, submit_and_decide):
`request_digest`, `replay_of` before the work (a read without the write lock), then the service
looks again and keeps the response inside the command's transaction, so the change and its record
commit together. What is stored and how is services/api_access.py's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.services.api_access import KeptResponse, kept_response, remember_response

KEY_LENGTH_MAX = 100  # leaves room for the key id prefix within the service layer's 128

IdempotencyKey = Header(alias="Idempotency-Key", min_length=1, max_length=KEY_LENGTH_MAX, pattern=r"^[!-~]+$",
                        description="Required on every create or money move; a retry returns the first response.")


def service_key(principal: Principal, key: str) -> str:
    # Two partners may both pick "abc": the service layer's keys are global, so namespace them.
    return f"{principal.key_id}:{key}"


def _hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


request_digest = _hash


def replay(first: KeptResponse, digest: str) -> JSONResponse:
    """The stored response again, or 409 if the key came with another request."""
    if first.request_hash != digest:
        raise Problem(409, "idempotency-conflict", "this Idempotency-Key was used with another request",
                      field="Idempotency-Key")
    return JSONResponse(first.body, status_code=first.status, headers={"Idempotent-Replayed": "true"})


def replay_of(engine: Engine, principal: Principal, key: str, digest: str) -> JSONResponse | None:
    """The replayed response if this key was already used (a read without the write lock), else None."""
    first = kept_response(engine, principal.key_id, key)
    return None if first is None else replay(first, digest)


def replayable(engine: Engine, principal: Principal, key: str, method: str, path: str, body: Any,
               run: Callable[[], tuple[int, Any]], *, kept: Callable[[Any], Any] | None = None) -> JSONResponse:
    """Replay the first response for this key, or run the command and keep its (successful) response.
    `kept` makes what is stored for the replay from the response (e.g. without a secret in it)."""
    digest = _hash(method, path, body)
    replayed = replay_of(engine, principal, key, digest)
    if replayed is not None:
        return replayed
    status, response = run()
    remember_response(engine, principal.key_id, key, method, path, digest, status,
                      kept(response) if kept else response)
    return JSONResponse(response, status_code=status)
