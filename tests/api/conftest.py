"""API test fixtures: one scoring model per session, an app over a migrated SQLite file, keys per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lendstack.api.app import create_app
from lendstack.api.keys import create_key
from lendstack.api.permissions import PARTNER, ROLES
from lendstack.scoring import TrainOptions
from lendstack.services.models import ensure_default_model
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.db import make_engine, upgrade

FAST_GBM = {"n_estimators": 120, "learning_rate": 0.1, "early_stopping_rounds": 20}


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=3000)
    return root


@pytest.fixture(scope="session")
def documents() -> list[dict[str, Any]]:
    sample: pl.DataFrame = generate_applications(200, seed=21)
    return [to_application_json(sample.row(i, named=True)) for i in range(sample.height)]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def keys_for(engine: Engine) -> dict[str, str]:
    """A token per role (the partner's partner id is "p1"), plus "partner2" for isolation tests."""
    tokens = {role: create_key(engine, role, partner_id="p1" if role == PARTNER else "").token for role in ROLES}
    tokens["partner2"] = create_key(engine, PARTNER, partner_id="p2").token
    return tokens


Client = Callable[[str], TestClient]


@pytest.fixture
def api(sqlite_engine: Engine, registry_dir: Path) -> Iterator[tuple[TestClient, dict[str, str], Engine]]:
    client = TestClient(create_app(sqlite_engine, registry_dir=registry_dir))
    yield client, keys_for(sqlite_engine), sqlite_engine
    client.close()


def auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


API = tuple[TestClient, dict[str, str], Engine]


def submit_until(client: TestClient, token: str, documents: list[dict[str, Any]], outcome: str,
                 start: int = 0) -> tuple[int, dict[str, Any]]:
    """Submit documents from `start` until one is decided `outcome`; (index, response body)."""
    for i in range(start, len(documents)):
        response = client.post("/v1/applications", json=documents[i], headers=auth(token, f"app-{i}"))
        assert response.status_code == 201, response.text
        if response.json()["decision"]["outcome"] == outcome:
            return i, response.json()
    raise AssertionError(f"no {outcome} among the documents")


@pytest.fixture
def booked(api: API, documents: list[dict[str, Any]]) -> tuple[API, str, str]:
    """A partner-p1 application, approved, accepted and disbursed through the API: (api, application id, loan id)."""
    client, tokens, _engine = api
    _i, body = submit_until(client, tokens[PARTNER], documents, "approve")
    application_id = body["application_id"]
    accepted = client.post(f"/v1/offers/{application_id}/accept", json={}, headers=auth(tokens[PARTNER], "acc-1"))
    assert accepted.status_code == 201, accepted.text
    loan_id = accepted.json()["loan_id"]
    disbursed = client.post(f"/v1/loans/{loan_id}/disbursements", json={}, headers=auth(tokens["admin"], "dis-1"))
    assert disbursed.status_code == 201, disbursed.text
    return api, application_id, loan_id
