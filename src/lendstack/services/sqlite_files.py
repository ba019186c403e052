"""The SQLite file behind a book, for the shells that manage it (`lendstack demo` builds a book in
a side file and renames it into place; `lendstack serve` checkpoints the write-ahead log in the
background). PostgreSQL needs none of this: each function says what it does for another backend.

The store (and SQLAlchemy) load inside the functions: the CLI starts without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # only for annotations
    from lendstack.store import Engine


class Checkpointer(Protocol):
    """A background WAL checkpointer (store.db.WalCheckpointer): stop it when serving ends."""

    def stop(self, timeout_s: float = 10.0) -> None: ...


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another backend or an in-memory database."""
    from lendstack.store import sqlite_files

    return sqlite_files.sqlite_file(url)


def checkpoint_truncate(engine: Engine) -> None:
    """Empty a SQLite book's write-ahead log into its main file (refused for another backend)."""
    from lendstack.store import sqlite_files

    sqlite_files.checkpoint_truncate(engine)


def start_wal_checkpointer(engine: Engine) -> Checkpointer | None:
    """SQLite on a file: checkpoints in the background, not inside a request (store.db.WalCheckpointer).
    None for another backend or an in-memory database."""
    from lendstack.store.db import WalCheckpointer
    from lendstack.store.sqlite_files import is_sqlite_file

    if not is_sqlite_file(engine):
        return None
    return WalCheckpointer(engine).start()
