"""Retries: what an attempt's result does to a delivery (delivered, retried later, or dead).

A failed attempt is retried with exponential backoff plus a deterministic jitter; after
MAX_ATTEMPTS it is dead (the dead-letter list) until someone asks for a redelivery."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from lendstack.invariants import check
from lendstack.webhooks.domain import DEAD, DELIVERED

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 3600
JITTER_FRACTION = 0.1  # < 1, so the delays still grow strictly until the cap
CLAIM_LEASE_S = 60  # a crashed sender's claim expires after this and the attempt is retried
ERROR_LENGTH_MAX = 500


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The delivery's new state after one attempt. `status` None: still pending, due at
    `next_attempt_at`; a dead delivery keeps the claim's next_attempt_at (None here: unchanged)."""

    attempts: int
    last_status_code: int | None
    last_error: str  # '' means delivered
    updated_at: datetime
    status: str | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None


def backoff(delivery_id: str, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s × 2^(attempts-1), capped, + up to 10% jitter.

    The jitter is derived from the delivery id, not random: runs are reproducible, and deliveries
    that failed together (a partner's outage) still spread out instead of retrying in lockstep."""
    check(attempts >= 1, "backoff follows a failed attempt")
    delay_s = min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_CAP_S)
    fraction = int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return timedelta(seconds=delay_s * (1 + JITTER_FRACTION * fraction))


def error_for_status(code: int) -> str:
    """'' for a 2xx answer (delivered); anything else is a failed attempt (a redirect is not a delivery)."""
    return "" if 200 <= code < 300 else f"HTTP {code}"


def clip_error(text: str) -> str:
    return text[:ERROR_LENGTH_MAX]


def outcome_of(delivery_id: str, attempts_before: int, code: int | None, error: str, now: datetime) -> AttemptOutcome:
    """The delivery after an attempt that answered `code` (None: no answer) with `error` ('' = delivered)."""
    attempts = attempts_before + 1
    if not error:
        return AttemptOutcome(attempts, code, error, now, status=DELIVERED, delivered_at=now)
    if attempts >= MAX_ATTEMPTS:
        return AttemptOutcome(attempts, code, error, now, status=DEAD)
    return AttemptOutcome(attempts, code, error, now, next_attempt_at=now + backoff(delivery_id, attempts))
