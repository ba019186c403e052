"""The signing module as pure functions: HMAC signatures with replay protection, the signed request,
and sealing a secret under the server key (bound to its subscription)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lendstack import secretbox
from lendstack.webhooks import signing

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "whsec_test"


def test_signature_round_trip_and_refusals() -> None:
    body = b'{"event_id":"e1"}'
    ts = str(int(T0.timestamp()))
    signature = signing.sign(SECRET, ts, body)
    assert signature.startswith("sha256=")
    assert signing.verify_signature(SECRET, ts, body, signature, now=T0 + timedelta(seconds=299))
    assert signing.verify_signature(SECRET, ts, body.decode(), signature, now=T0)
    assert not signing.verify_signature(SECRET, ts, b'{"event_id":"e2"}', signature, now=T0)  # tampered body
    assert not signing.verify_signature("whsec_other", ts, body, signature, now=T0)  # wrong secret
    assert not signing.verify_signature(SECRET, ts, body, signature, now=T0 + timedelta(seconds=301))  # stale
    old = str(int(T0.timestamp()) - 3600)
    assert not signing.verify_signature(SECRET, old, body, signing.sign(SECRET, old, body), now=T0)  # re-signed, old
    assert not signing.verify_signature(SECRET, "nope", body, signature, now=T0)


def test_a_future_timestamp_is_refused_too() -> None:
    future = str(int(T0.timestamp()) + 3600)
    body = b"{}"
    assert not signing.verify_signature(SECRET, future, body, signing.sign(SECRET, future, body), now=T0)


def test_signed_request_is_canonical_json_with_the_attempts_timestamp() -> None:
    body, headers = signing.signed_request({"b": 2, "a": 1}, "loan.repaid", "wd_1", SECRET, T0)
    assert body == b'{"a":1,"b":2}'
    assert headers["X-Lendstack-Event"] == "loan.repaid" and headers["X-Lendstack-Delivery"] == "wd_1"
    assert headers["X-Lendstack-Timestamp"] == str(int(T0.timestamp()))
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"] == signing.USER_AGENT
    assert signing.verify_signature(SECRET, headers["X-Lendstack-Timestamp"], body,
                                    headers["X-Lendstack-Signature"], now=T0)
    later_body, later = signing.signed_request({"a": 1, "b": 2}, "loan.repaid", "wd_1", SECRET, T0 + timedelta(hours=1))
    assert later_body == body and later["X-Lendstack-Signature"] != headers["X-Lendstack-Signature"]


def test_request_for_a_mapping_equals_signed_request() -> None:
    delivery = {"event": {"a": 1}, "event_type": "loan.repaid", "delivery_id": "d1"}
    assert signing.request_for(delivery, SECRET, T0) == signing.signed_request({"a": 1}, "loan.repaid", "d1",
                                                                                SECRET, T0)
    assert json.loads(signing.request_for(delivery, SECRET, T0)[0]) == {"a": 1}


def test_a_sealed_secret_opens_for_its_own_subscription_only() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and signing.new_secret() != secret
    sealed = signing.seal_secret(secret, "ws_1")
    assert secretbox.is_sealed(sealed) and secret[6:] not in sealed
    assert signing.open_secret(sealed, "ws_1") == secret
    with pytest.raises(secretbox.SecretBoxError):
        signing.open_secret(sealed, "ws_2")


def test_a_kept_answer_never_holds_the_secret() -> None:
    answer = {"subscription_id": "ws_1", "secret": "whsec_x", "url": "https://a.example"}
    kept = signing.without_secret(answer)
    assert kept == {**answer, "secret": signing.SECRET_WITHHELD} and answer["secret"] == "whsec_x"
