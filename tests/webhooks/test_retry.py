"""Retries as pure rules: backoff with deterministic jitter, and what an attempt does to a delivery."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from lendstack.invariants import InvariantError
from lendstack.webhooks import retry
from lendstack.webhooks.domain import DEAD, DELIVERED

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_backoff_grows_is_capped_and_deterministic() -> None:
    delays = [retry.backoff("wd_x", n).total_seconds() for n in range(1, retry.MAX_ATTEMPTS)]
    assert all(a < b for a, b in itertools.pairwise(delays))
    assert delays[0] >= retry.BACKOFF_BASE_S
    assert retry.backoff("wd_x", 30).total_seconds() <= retry.BACKOFF_CAP_S * 1.1
    assert retry.backoff("wd_x", 3) == retry.backoff("wd_x", 3) and retry.backoff("wd_x", 3) != retry.backoff("wd_y", 3)


def test_backoff_needs_a_failed_attempt() -> None:
    with pytest.raises(InvariantError):
        retry.backoff("wd_x", 0)


def test_only_2xx_is_delivered() -> None:
    assert [retry.error_for_status(c) for c in (200, 204, 299)] == ["", "", ""]
    assert [retry.error_for_status(c) for c in (199, 301, 404, 500)] == ["HTTP 199", "HTTP 301", "HTTP 404",
                                                                         "HTTP 500"]
    assert len(retry.clip_error("x" * 2000)) == retry.ERROR_LENGTH_MAX


def test_delivered_failed_dead() -> None:
    delivered = retry.outcome_of("wd_x", 2, 200, "", T0)
    assert (delivered.attempts, delivered.status, delivered.delivered_at, delivered.next_attempt_at) == (
        3, DELIVERED, T0, None)
    failed = retry.outcome_of("wd_x", 0, 500, "HTTP 500", T0)
    assert failed.status is None and failed.attempts == 1 and failed.last_status_code == 500
    assert failed.next_attempt_at == T0 + retry.backoff("wd_x", 1)
    dead = retry.outcome_of("wd_x", retry.MAX_ATTEMPTS - 1, None, "ConnectionError: refused", T0)
    assert (dead.status, dead.attempts, dead.next_attempt_at, dead.delivered_at) == (
        DEAD, retry.MAX_ATTEMPTS, None, None)
    assert dead.last_error == "ConnectionError: refused" and dead.updated_at == T0
