"""The webhook routes over HTTP: roles, partner isolation, the secret shown once, idempotent create,
the dead-letter filter and redelivery."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from lendstack.api.app import create_app
from lendstack.api.keys import create_key
from lendstack.api.permissions import MATRIX, PARTNER, ROLES
from lendstack.store.db import make_engine, upgrade
from lendstack.store.tables_webhooks import webhook_deliveries
from lendstack.webhooks import service as wh
from tests.webhooks.test_webhooks import T0, Recorder, emit

Api = tuple[TestClient, dict[str, str], Engine]
BODY = {"url": "https://partner.example/hooks", "event_types": ["loan.repaid", "loan.overdue"]}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    tokens = {role: create_key(engine, role, partner_id="p1" if role == PARTNER else "").token for role in ROLES}
    tokens["partner2"] = create_key(engine, PARTNER, partner_id="p2").token
    client = TestClient(create_app(engine, registry_dir=tmp_path))
    yield client, tokens, engine
    client.close()
    engine.dispose()


def h(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}


def test_subscribe_shows_the_secret_once_and_is_idempotent(api: Api) -> None:
    client, tokens, _engine = api
    first = client.post("/v1/webhooks/subscriptions", json=BODY, headers=h(tokens[PARTNER], "s-1"))
    assert first.status_code == 201, first.text
    assert first.json()["secret"].startswith("whsec_") and first.json()["partner_id"] == "p1"
    again = client.post("/v1/webhooks/subscriptions", json=BODY, headers=h(tokens[PARTNER], "s-1"))
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/webhooks/subscriptions", json={**BODY, "url": "https://x.example"},
                        headers=h(tokens[PARTNER], "s-1"))
    assert other.status_code == 409
    listed = client.get("/v1/webhooks/subscriptions", headers=h(tokens[PARTNER])).json()["items"]
    assert [s["subscription_id"] for s in listed] == [first.json()["subscription_id"]]
    assert "secret" not in listed[0]


@pytest.mark.parametrize(("body", "field"), [({**BODY, "url": "ftp://x.example"}, "url"),
                                             ({**BODY, "event_types": ["loan.nope"]}, "event_types"),
                                             ({"url": "https://x.example"}, "event_types")])
def test_bad_subscription_is_a_problem_naming_the_field(api: Api, body: dict[str, object], field: str) -> None:
    client, tokens, _engine = api
    response = client.post("/v1/webhooks/subscriptions", json=body, headers=h(tokens["admin"], "bad"))
    assert response.status_code == 422 and field in response.text
    assert client.get("/v1/webhooks/subscriptions", headers=h(tokens["admin"])).json()["items"] == []


def test_partners_see_and_manage_only_their_own(api: Api) -> None:
    client, tokens, _engine = api
    sid = client.post("/v1/webhooks/subscriptions", json=BODY, headers=h(tokens[PARTNER], "s")).json()[
        "subscription_id"]
    assert client.get("/v1/webhooks/subscriptions", headers=h(tokens["partner2"])).json()["items"] == []
    assert client.delete(f"/v1/webhooks/subscriptions/{sid}", headers=h(tokens["partner2"])).status_code == 404
    assert len(client.get("/v1/webhooks/subscriptions", headers=h(tokens["auditor"])).json()["items"]) == 1
    gone = client.delete(f"/v1/webhooks/subscriptions/{sid}", headers=h(tokens[PARTNER]))
    assert gone.status_code == 200 and gone.json()["active"] is False


def _dead_delivery(client: TestClient, tokens: dict[str, str], engine: Engine) -> str:
    client.post("/v1/webhooks/subscriptions", json=BODY, headers=h(tokens[PARTNER], "s"))
    emit(engine, "loan.repaid", "L1", partner="p1")
    wh.fan_out(engine, now=T0)
    with engine.begin() as conn:  # skip the eight real attempts: test_webhooks covers the way there
        conn.execute(update(webhook_deliveries).values(status=wh.DEAD, attempts=wh.MAX_ATTEMPTS))
    (delivery,) = wh.list_deliveries(engine, status=wh.DEAD, partner_id=None, limit=5)
    return delivery.delivery_id


def test_dead_letters_and_redelivery(api: Api) -> None:
    client, tokens, engine = api
    delivery_id = _dead_delivery(client, tokens, engine)
    dead = client.get("/v1/webhooks/deliveries", params={"status": "dead"}, headers=h(tokens[PARTNER]))
    assert [d["delivery_id"] for d in dead.json()["items"]] == [delivery_id]
    assert client.get("/v1/webhooks/deliveries", params={"status": "dead"},
                      headers=h(tokens["partner2"])).json()["items"] == []
    assert client.get("/v1/webhooks/deliveries", params={"status": "lost"},
                      headers=h(tokens["admin"])).status_code == 422
    url = f"/v1/webhooks/deliveries/{delivery_id}/redeliver"
    assert client.post(url, headers=h(tokens["partner2"])).status_code == 404
    again = client.post(url, headers=h(tokens["admin"]))
    assert again.status_code == 200 and again.json()["status"] == "pending" and again.json()["attempts"] == 0
    assert wh.dispatch(engine, now=datetime.now(UTC) + timedelta(seconds=1), sender=Recorder(200)).delivered == 1



def test_webhook_routes_every_role(api: Api) -> None:
    """The matrix for these routes: the wrong role gets 403, the right one never does."""
    client, tokens, _engine = api
    ids = {"subscription_id": "ws_missing", "delivery_id": "wd_missing"}
    routes = [(m, r) for (m, r) in MATRIX if r.startswith("/v1/webhooks")]
    assert len(routes) == 5
    for method, route in routes:
        url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], route)
        for role in ROLES:
            response = client.request(method, url, json={}, headers=h(tokens[role], f"m-{role}-{route}"))
            assert (response.status_code == 403) == (role not in MATRIX[(method, route)]), (method, route, role)
