"""Shared fixtures: the storage tests run on SQLite AND PostgreSQL.

- `engine`: a freshly migrated database, parametrized ["sqlite", "postgres"]. SQLite is a new file
  in tmp_path; PostgreSQL is a new database cloned (CREATE DATABASE ... TEMPLATE) from a template
  migrated once per session, dropped after the test.
- `uow`: a factory, `with uow() as u: u.ledger.post(...)`.
- `postgres_server_url`: LENDSTACK_TEST_POSTGRES_URL if set, else a throwaway cluster
  (lendstack.store.pgtemp) for the session. Under pytest-xdist each worker process starts its own
  cluster (only if one of its tests needs PostgreSQL) and removes it at the end of its session.

Without PostgreSQL binaries the postgres variants fail when CI=true and are skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.pool import NullPool

from lendstack.store.db import make_engine, upgrade
from lendstack.store.pgtemp import PostgresUnavailable, find_pg_bin, throwaway_cluster
from lendstack.store.uow import UnitOfWork

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _url_with_database(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _admin_engine(server_url: str) -> Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    configured = os.environ.get("LENDSTACK_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    try:
        find_pg_bin()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(str(exc))
    with throwaway_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """Name of a database migrated to head once per session (per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"lendstack_tpl_{worker}_{os.getpid()}"
    admin = _admin_engine(postgres_server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    template_engine = make_engine(_url_with_database(postgres_server_url, name), poolclass=NullPool)
    upgrade(template_engine)
    template_engine.dispose()  # a template must have no open connections when it is cloned
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _postgres_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    server_url: str = request.getfixturevalue("postgres_server_url")
    template: str = request.getfixturevalue("postgres_template")
    name = f"lendstack_test_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine = make_engine(_url_with_database(server_url, name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'lendstack.db'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path)
    else:
        yield from _postgres_engine(request)


@pytest.fixture
def uow(engine: Engine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine)


@pytest.fixture(scope="session", autouse=True)
def _server_key_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Webhook secrets are sealed under a server key (lendstack.secretbox), whose default file is in
    ~/.config: the tests' key is made in a temporary folder instead (subprocesses inherit it)."""
    os.environ.setdefault("LENDSTACK_SECRET_KEY_FILE", str(tmp_path_factory.mktemp("server-key") / "secret.key"))
