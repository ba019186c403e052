"""Signatures and signing secrets, without I/O but the server key `secretbox` reads.

Each request is signed: X-Lendstack-Signature = "sha256=" + HMAC-SHA256(secret, f"{timestamp}.{body}").
Receivers check it with `verify_signature`, which also refuses stale timestamps (replays).

A signing secret is shown once, in the answer to the subscribe call. At rest it is sealed under the
server key (lendstack.secretbox), bound to its subscription id; an idempotent replay of the
subscribe call keeps the answer with SECRET_WITHHELD in its place and opens the sealed one again.
Migration 0015 imports this module for SECRET_WITHHELD, so it must stay free of the store."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lendstack import secretbox

SIGNATURE_TOLERANCE_S = 300
SECRET_BYTES = 32
SECRET_WITHHELD = "(withheld: shown in the answer to the first request only)"
USER_AGENT = "lendstack-webhooks/1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)


def seal_secret(secret: str, subscription_id: str) -> str:
    """The secret as stored: sealed under the server key, bound to its subscription."""
    return secretbox.seal(secret, context=subscription_id)


def open_secret(sealed: str, subscription_id: str) -> str:
    """Raises SecretBoxError for a value that is not sealed (migration 0015 sealed the old clear ones)
    or does not open under this server's key."""
    return secretbox.open_(sealed, context=subscription_id)


def without_secret(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A subscribe answer as kept for an idempotent replay: never the secret itself (the replay
    reads it again, sealed, with `service.subscription_secret`)."""
    return {**answer, "secret": SECRET_WITHHELD}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes | str, signature: str, *,
                     tolerance_s: int = SIGNATURE_TOLERANCE_S, now: datetime) -> bool:
    """True if `signature` is ours for this body and timestamp, and the timestamp is fresh."""
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False  # a replay of an old (or a far-future) request
    raw = body.encode() if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, timestamp, raw), signature)


def signed_request(event: Mapping[str, Any], event_type: str, delivery_id: str, secret: str,
                   now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt (the timestamp is the attempt's, so retries stay fresh)."""
    body = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Lendstack-Event": event_type, "X-Lendstack-Delivery": delivery_id,
               "X-Lendstack-Timestamp": timestamp, "X-Lendstack-Signature": sign(secret, timestamp, body)}
    return body, headers


def request_for(delivery: Mapping[str, Any], secret: str, now: datetime) -> tuple[bytes, dict[str, str]]:
    """`signed_request` for a delivery given as a mapping with "event", "event_type" and "delivery_id"."""
    return signed_request(delivery["event"], str(delivery["event_type"]), str(delivery["delivery_id"]), secret, now)
