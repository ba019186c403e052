"""The SQLite file behind a book: which file a URL names, and emptying its write-ahead log into it.
The CLI reaches these through `services.sqlite_files`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, make_url

from lendstack.invariants import check


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def checkpoint_truncate(engine: Engine) -> None:
    """Copy the whole write-ahead log into the main file and empty it (SQLite), so the file alone is
    the book. Runs outside any transaction: a checkpoint cannot run inside one."""
    check(engine.dialect.name == "sqlite", f"a WAL checkpoint is SQLite's, not {engine.dialect.name}'s")
    raw = engine.raw_connection()
    try:
        busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    check(busy == 0, "the book's write-ahead log is checkpointed into the main file")


def is_sqlite_file(engine: Engine) -> bool:
    """The engine is on a SQLite file (not another backend, not in memory)."""
    database = engine.url.database or ""
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"
