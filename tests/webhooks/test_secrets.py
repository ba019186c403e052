"""Issue 12 §5: webhook signing secrets are sealed at rest under a server key, never kept in the
idempotency records, and the clear secrets of older books are sealed by migration 0015."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, text, update

from lendstack import secretbox
from lendstack.api.app import create_app
from lendstack.api.keys import create_key
from lendstack.api.permissions import PARTNER
from lendstack.store.db import downgrade, upgrade
from lendstack.store.tables_api import api_idempotency
from lendstack.store.tables_webhooks import webhook_subscriptions
from lendstack.webhooks import service as wh
from lendstack.webhooks.domain import DueDelivery

URL, TYPES = "https://partner.example/hooks", ["loan.repaid"]
BODY: dict[str, object] = {"url": URL, "event_types": TYPES}
NOW = datetime(2026, 1, 15, 9, tzinfo=UTC)


def stored_secret(engine: Engine, subscription_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(webhook_subscriptions.c.secret)
                                .where(webhook_subscriptions.c.subscription_id == subscription_id)).scalar_one())


def everything_stored(engine: Engine) -> str:
    """Every row of the subscription and idempotency tables as text: where a leaked secret would show."""
    with engine.connect() as conn:
        rows = [*conn.execute(select(webhook_subscriptions)), *conn.execute(select(api_idempotency))]
    return json.dumps([[str(v) for v in row] for row in rows])


def test_the_secret_is_sealed_at_rest_and_still_signs(engine: Engine) -> None:
    made = wh.create_subscription(engine, url=URL, event_types=TYPES, now=NOW)
    secret = made.secret
    sealed = stored_secret(engine, made.subscription_id)
    assert secret.startswith("whsec_") and secretbox.is_sealed(sealed)
    assert secret not in everything_stored(engine) and secret[6:] not in sealed
    assert wh.open_secret(sealed, made.subscription_id) == secret
    body, headers = wh.request_for({"event": {"a": 1}, "event_type": "loan.repaid", "delivery_id": "d1"},
                                   wh.open_secret(sealed, made.subscription_id), NOW)
    assert wh.verify_signature(secret, headers["X-Lendstack-Timestamp"], body, headers["X-Lendstack-Signature"],
                               now=NOW)


def test_a_sealed_secret_opens_only_for_its_own_subscription_and_key() -> None:
    sealed = secretbox.seal("whsec_abc", context="ws_1")
    with pytest.raises(secretbox.SecretBoxError, match="does not open"):
        secretbox.open_(sealed, context="ws_2")  # copied onto another row
    other_key = bytes(range(32))
    with pytest.raises(secretbox.SecretBoxError, match="another server key"):
        secretbox.open_(sealed, context="ws_1", key=other_key)
    with pytest.raises(secretbox.SecretBoxError, match="not a sealed value"):
        secretbox.open_("whsec_abc", context="ws_1")
    assert secretbox.seal("whsec_abc", context="ws_1") != sealed  # a fresh nonce each time


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secretbox.KEY_ENV, raising=False)
    path = tmp_path / "keys" / "secret.key"
    monkeypatch.setenv(secretbox.KEY_FILE_ENV, str(path))
    key = secretbox.server_key()
    assert len(key) == secretbox.KEY_BYTES and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secretbox.server_key() == key  # the same key next time


def test_a_key_from_the_environment_wins_and_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv(secretbox.KEY_ENV, base64.urlsafe_b64encode(key).decode())
    assert secretbox.server_key() == key
    monkeypatch.setenv(secretbox.KEY_ENV, "too-short")
    with pytest.raises(secretbox.SecretBoxError) as caught:
        secretbox.server_key()
    assert caught.value.field == secretbox.KEY_ENV
    monkeypatch.delenv(secretbox.KEY_ENV)
    readable = tmp_path / "readable.key"
    readable.write_text(base64.urlsafe_b64encode(key).decode())
    readable.chmod(0o644)
    monkeypatch.setenv(secretbox.KEY_FILE_ENV, str(readable))
    with pytest.raises(secretbox.SecretBoxError, match="owner only"):
        secretbox.server_key()


def test_an_unopenable_secret_is_a_failed_attempt_not_a_crash(engine: Engine) -> None:
    made = wh.create_subscription(engine, url=URL, event_types=TYPES, now=NOW)
    with engine.begin() as conn:
        conn.execute(update(webhook_subscriptions).values(secret=secretbox.seal("whsec_x", context="ws_other")))
    row = DueDelivery(delivery_id="d1", subscription_id=made.subscription_id, event_type="loan.repaid", event={},
                      attempts=0, next_attempt_at=NOW, url=URL,
                      sealed_secret=stored_secret(engine, made.subscription_id), active=True)
    code, error = wh._attempt(row, lambda url, body, headers: 200, NOW)
    assert code is None and error.startswith("secret:")


# --------------------------------------------------------------------------- the idempotent replay


def test_the_idempotency_record_never_holds_the_secret_and_a_replay_still_shows_it(
        engine: Engine, tmp_path: Path) -> None:
    token = create_key(engine, PARTNER, partner_id="p1").token
    with TestClient(create_app(engine, registry_dir=tmp_path)) as client:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "sub-1"}
        first = client.post("/v1/webhooks/subscriptions", json=BODY, headers=headers)
        assert first.status_code == 201, first.text
        secret = first.json()["secret"]
        assert secret not in everything_stored(engine)
        with engine.connect() as conn:
            kept = conn.execute(select(api_idempotency.c.body)).scalar_one()
        assert kept["secret"] == wh.SECRET_WITHHELD and kept["subscription_id"] == first.json()["subscription_id"]
        again = client.post("/v1/webhooks/subscriptions", json=BODY, headers=headers)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = create_key(engine, PARTNER, partner_id="p2").token  # another key's replay space is its own
        theirs = client.post("/v1/webhooks/subscriptions", json=BODY,
                             headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "sub-1"})
        assert theirs.status_code == 201 and theirs.json()["secret"] != secret


# --------------------------------------------------------------------------- migration 0015


def test_migration_0015_seals_clear_secrets_and_scrubs_kept_answers(engine: Engine) -> None:
    downgrade(engine, "0014")
    clear = "whsec_" + "k" * 43
    answer = {"subscription_id": "ws_old", "partner_id": "p1", "url": URL, "secret": clear}
    with engine.begin() as conn:
        conn.execute(insert(webhook_subscriptions).values(
            subscription_id="ws_old", partner_id="p1", url=URL, event_types=["loan.repaid"], secret=clear,
            active=True, created_by="k1", created_at=NOW))
        conn.execute(insert(api_idempotency).values(
            key_id="k1", idempotency_key="old", method="POST", path="/v1/webhooks/subscriptions", request_hash="h",
            status=201, body=answer, created_at=NOW))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0015"
        kept = conn.execute(select(api_idempotency.c.body)).scalar_one()
    sealed = stored_secret(engine, "ws_old")
    assert secretbox.is_sealed(sealed) and wh.open_secret(sealed, "ws_old") == clear
    assert kept == {**answer, "secret": wh.SECRET_WITHHELD}
    assert clear not in everything_stored(engine)
    downgrade(engine, "0014")  # and back: the secret in clear again, for an older release
    assert stored_secret(engine, "ws_old") == clear
    upgrade(engine)
