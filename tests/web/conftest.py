"""Console test fixtures: a fast argon2 (tests only), one small scoring model per session, the site
over the `engine` fixture (SQLite and PostgreSQL), and logged-in clients per staff role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from lendstack.scoring import TrainOptions
from lendstack.services import staff
from lendstack.services.decisions import decide_application
from lendstack.services.models import ensure_default_model, scoring_model
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.tables import metadata
from lendstack.web import create_site
from lendstack.web.auth import SESSION_COOKIE

FAST_GBM = {"n_estimators": 60, "learning_rate": 0.15, "early_stopping_rounds": 10, "n_jobs": 1}
TODAY = date(2026, 1, 15)


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    # The production parameters cost ~50 ms a hash on purpose; tests hash hundreds of times.
    monkeypatch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("console-models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=2000)
    return root


@pytest.fixture(scope="session")
def documents() -> list[dict[str, Any]]:
    sample: pl.DataFrame = generate_applications(120, seed=21, as_of=TODAY)
    return [to_application_json(sample.row(i, named=True)) for i in range(sample.height)]


@pytest.fixture
def site(engine: Engine, registry_dir: Path) -> Iterator[TestClient]:
    # https: the console's cookies are Secure by default (plain http is an explicit opt-in, see site.py).
    client = TestClient(create_site(engine, registry_dir=registry_dir), base_url="https://testserver")
    yield client
    client.close()


Login = Callable[[str], TestClient]


@pytest.fixture
def login_as(engine: Engine, registry_dir: Path) -> Iterator[Login]:
    """A new client logged in as a fresh user of `role` (the session is made directly: fast)."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        username = f"{role.replace('_', '')[:20]}{len(clients)}"
        staff.create_user(engine, username, "correct horse battery", role)
        user = staff.get_user(engine, username)
        assert user is not None
        client = TestClient(create_site(engine, registry_dir=registry_dir), base_url="https://testserver")
        client.cookies.set(SESSION_COOKIE, staff.start_session(engine, user))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def csrf_of(client: TestClient) -> str:
    return staff.csrf_token_for(str(client.cookies.get(SESSION_COOKIE)))


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table but the audit trail and sessions (which a refused request may touch)."""
    skip = {"api_audit", "staff_sessions", "alembic_version"}
    with engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in metadata.tables.items() if name not in skip}


def decide_until(engine: Engine, registry_dir: Path, documents: list[dict[str, Any]],
                 outcomes: set[str]) -> dict[str, str]:
    """Decide documents in order until each of `outcomes` has come out once: {outcome: application id}."""
    model = scoring_model(registry_dir)
    found: dict[str, str] = {}
    for document in documents:
        decision = decide_application(engine, document, model=model, today=TODAY)
        found.setdefault(decision.outcome, decision.application_id)
        if outcomes <= set(found):
            return found
    raise AssertionError(f"not every one of {outcomes} among the documents: {found}")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name}"
    return found.group(1)
