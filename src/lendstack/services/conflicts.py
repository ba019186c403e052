"""The conflicts a money command can end in, for the shells to catch by name without importing
the store: a reused idempotency key with another request (`IdempotencyConflict`), and a loan
another transaction changed meanwhile, after the retries (`ConcurrentUpdate`). Both have kind
`ErrorKind.CONFLICT` (lendstack.errors)."""

from __future__ import annotations

from lendstack.store.idempotency import IdempotencyConflict
from lendstack.store.loan_repo import ConcurrentUpdate

__all__ = ["ConcurrentUpdate", "IdempotencyConflict"]
