"""Engine settings: URL handling, SQLite pragmas, BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from lendstack.store.db import WAL_BACKSTOP_PAGES, WalCheckpointer, database_url, make_engine, normalize_url


def test_database_url_defaults_to_sqlite_file_and_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LENDSTACK_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///lendstack.db"
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql://u@h/db"


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    assert make_engine("postgresql://u@localhost/db").dialect.driver == "psycopg"


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="database_url"):
        make_engine("mysql://u@h/db")


def test_sqlite_connections_use_wal_normal_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    engine.dispose()


def test_sqlite_writers_serialize_at_begin_immediate(tmp_path: Path) -> None:
    """A second writer waits for the first at BEGIN (no late 'database is locked')."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")

    def bump() -> None:
        with engine.begin() as conn:
            n = conn.execute(text("SELECT n FROM counter")).scalar_one()
            time.sleep(0.01)  # read-modify-write: lost updates unless writers serialize
            conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 8
    engine.dispose()


def _wal_frames(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_checkpointer_takes_checkpoints_off_the_commits(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL, pad TEXT NOT NULL)"))
    checkpointer = WalCheckpointer(engine, interval_s=0.05).start()
    try:
        with engine.connect() as conn:
            # requests checkpoint only as a backstop, far beyond SQLite's 1,000 pages
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == WAL_BACKSTOP_PAGES
        # Past SQLite's 1,000-page automatic checkpoint (~3,000 pages), below the backstop: no commit
        # copies pages any more ...
        for batch in range(60):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:n, :pad)"),
                             [{"n": batch * 100 + i, "pad": "x" * 2000} for i in range(100)])
        # ... the thread does, within a few intervals (bounded wait).
        deadline = time.monotonic() + 10.0
        while checkpointer.checkpoints < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints >= 3 and checkpointer.errors == 0
    finally:
        checkpointer.stop()
    assert _wal_frames(path) > 0
    engine.dispose()
    # Every committed row is in the database, whatever the checkpoints did.
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        assert raw.execute("SELECT count(*), sum(n) FROM t").fetchone() == (6000, sum(range(6000)))
        busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and frames == copied  # nothing left that a checkpoint could not copy
    finally:
        raw.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_the_checkpointer_needs_a_database_file(url: str) -> None:
    with pytest.raises(AssertionError):
        WalCheckpointer(make_engine(url))


def test_the_checkpointer_refuses_a_silly_interval(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    for interval_s in (0.0, -1.0, 61.0):
        with pytest.raises(AssertionError):
            WalCheckpointer(engine, interval_s=interval_s)
