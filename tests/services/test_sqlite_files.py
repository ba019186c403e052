"""The SQLite file helpers the demo and serve commands use."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendstack.invariants import InvariantError
from lendstack.services.database import open_engine
from lendstack.services.sqlite_files import checkpoint_truncate, sqlite_file, start_wal_checkpointer


def test_sqlite_file_names_the_file_of_a_sqlite_url_only() -> None:
    assert sqlite_file("sqlite:///books/lendstack.db") == Path("books/lendstack.db")
    assert sqlite_file("sqlite:////tmp/x.db") == Path("/tmp/x.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@localhost/db") is None


def test_checkpoint_leaves_the_book_in_the_main_file(tmp_path: Path) -> None:
    path = tmp_path / "book.db"
    engine = open_engine(f"sqlite:///{path}")
    try:
        checkpoint_truncate(engine)
    finally:
        engine.dispose()
    wal = tmp_path / "book.db-wal"
    assert path.stat().st_size > 0 and (not wal.exists() or wal.stat().st_size == 0)


def test_a_wal_checkpointer_runs_on_a_sqlite_file_only(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'book.db'}")
    try:
        checkpointer = start_wal_checkpointer(engine)
        assert checkpointer is not None
        checkpointer.stop()
    finally:
        engine.dispose()
    memory = open_engine("sqlite://", migrate=False)
    try:
        assert start_wal_checkpointer(memory) is None
        with pytest.raises(InvariantError):
            checkpoint_truncate(open_engine("postgresql+psycopg://u@localhost/db", migrate=False))
    finally:
        memory.dispose()
