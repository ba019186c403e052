"""The throwaway cluster starts, serves, stops and leaves nothing behind."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from lendstack.store.pgtemp import PostgresUnavailable, find_pg_bin, throwaway_cluster

try:
    find_pg_bin()
    HAVE_PG = True
except PostgresUnavailable:
    HAVE_PG = False

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not HAVE_PG, reason="no PostgreSQL binaries")]


def _dirs(prefix: str) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(prefix + "*"))


def _conninfo(url: str) -> str:
    parsed = make_url(url)
    return f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"


def test_cluster_serves_then_is_stopped_and_removed() -> None:
    prefix = f"lendstack-pg-test-{uuid.uuid4().hex[:8]}-"
    with throwaway_cluster(dir_prefix=prefix) as url:
        assert len(_dirs(prefix)) == 1
        assert url.startswith("postgresql+psycopg://") and url.endswith("/lendstack")
        with psycopg.connect(_conninfo(url)) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
    assert _dirs(prefix) == []
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_conninfo(url), connect_timeout=5)


def test_cluster_is_removed_when_the_block_raises() -> None:
    prefix = f"lendstack-pg-test-{uuid.uuid4().hex[:8]}-"
    with pytest.raises(RuntimeError, match="boom"), throwaway_cluster(dir_prefix=prefix):
        raise RuntimeError("boom")
    assert _dirs(prefix) == []
