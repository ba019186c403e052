"""Engines and schema upgrades. The URL comes from LENDSTACK_DATABASE_URL; SQLite is the default.

SQLite connections get WAL (readers never block the one writer), synchronous=NORMAL (safe with
WAL, much faster than FULL), foreign keys and a busy timeout; every transaction starts with
BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout at BEGIN instead of failing
late at their first write with "database is locked". A connection from `read_only(engine)` starts
a plain (deferred) BEGIN instead: it reads one consistent WAL snapshot without taking the write
lock, so hot-path lookups (API keys, idempotency records) never queue behind a writer.

synchronous=NORMAL under WAL: a commit is durable against a crash of the process (the WAL is in
the OS page cache and is replayed on the next open); only a power loss or kernel crash can lose the
last transactions before a checkpoint, and the database is never corrupted. FULL would fsync the
WAL on every commit.

A serving process moves WAL checkpoints off the request path (`WalCheckpointer`): by default the
commit that pushes the WAL past 1,000 pages copies them into the database and fsyncs, inside that
request (measured: commit p99 11 ms and max 20 ms with it, 0.4 ms and 0.7 ms without).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

if TYPE_CHECKING:  # Alembic (~120 ms to import) loads only when a migration must run
    from alembic.config import Config

DEFAULT_DATABASE_URL = "sqlite:///lendstack.db"  # relative to the working directory
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "lendstack_read_only"  # execution option: BEGIN (deferred) instead of BEGIN IMMEDIATE
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision id. Update it with each new migration: a test compares it with
# Alembic's head, and upgrade() skips Alembic when the database is already here.
HEAD_REVISION = "0015"
WAL_CHECKPOINT_INTERVAL_S = 1.0
# With the background checkpointer, a commit checkpoints only past this many WAL pages (~40 MB): a
# backstop that bounds the WAL if the thread falls behind or fails, never reached in normal running.
WAL_BACKSTOP_PAGES = 10_000


def database_url() -> str:
    """The configured database URL: LENDSTACK_DATABASE_URL, else a SQLite file in the cwd."""
    return os.environ.get("LENDSTACK_DATABASE_URL") or DEFAULT_DATABASE_URL


def normalize_url(url: str) -> str:
    """Plain postgresql:// (and postgres://) URLs become postgresql+psycopg:// (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: database_url()), with the per-backend settings above."""
    url = normalize_url(url or database_url())
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        _private_file(make_url(url).database or "")
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(url, **kwargs)
    raise ValueError(f"database_url: unsupported backend {backend!r}; use sqlite or postgresql")


DATABASE_FILE_MODE = 0o600  # the book holds personal data: its owner only


def _private_file(database: str) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (it would use 0644 under the usual
    umask), and narrow an existing book's file to 0600. SQLite creates the -wal and -shm files with
    the database file's own mode, so they are 0600 as well."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return  # in memory, or a URI the caller manages
    path = Path(database)
    for existing in (path, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if existing.exists() and existing.stat().st_mode & 0o777 != DATABASE_FILE_MODE:
            existing.chmod(DATABASE_FILE_MODE)
    if not path.exists():
        if not path.parent.is_dir():
            return  # SQLite's own "unable to open database file" names the problem
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, DATABASE_FILE_MODE))  # O_CREAT without O_EXCL: races agree
        path.chmod(DATABASE_FILE_MODE)  # os.open applies the umask; a umask never widens 0600, this is for clarity
    assert path.stat().st_mode & 0o777 == DATABASE_FILE_MODE


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # isolation_level=None stops pysqlite from issuing its own (deferred) BEGIN; we issue
        # BEGIN IMMEDIATE below. The pragmas then run outside any transaction, as WAL requires.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class WalCheckpointer:
    """SQLite WAL checkpoints in a background thread instead of inside some request's commit.

    Moves the automatic checkpoint of the engine's connections from 1,000 to WAL_BACKSTOP_PAGES pages
    (the pool is emptied so every connection is made again with it) and runs a PASSIVE checkpoint
    every `interval_s` on a connection of its own: PASSIVE takes no write lock and waits for nobody,
    so requests go on committing while the pages are copied. For a serving process (`lendstack serve`, the demo, the
    API benchmark); batch jobs keep SQLite's default. `stop()` ends the thread after a last checkpoint."""

    def __init__(self, engine: Engine, interval_s: float = WAL_CHECKPOINT_INTERVAL_S) -> None:
        assert engine.dialect.name == "sqlite", "WAL checkpoints are SQLite's"
        assert 0.0 < interval_s <= 60.0, f"interval_s must be in (0, 60], got {interval_s}"
        database = engine.url.database or ""
        assert database and database != ":memory:", "a file database: a memory one has no WAL"
        self.path, self.interval_s = database, interval_s
        self.checkpoints = 0  # PASSIVE checkpoints run (each copies what no reader still needs)
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lendstack-wal-checkpoint", daemon=True)
        event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()  # pooled connections were made with the automatic checkpoint on

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the checkpointer did not stop"

    def _loop(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                stopping = self._stop.wait(self.interval_s)
                self._checkpoint(connection)
                if stopping:
                    return
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error:
            self.errors += 1  # e.g. the file went away under a test; the next interval tries again


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}")
    finally:
        cursor.close()


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only. On SQLite its transaction is deferred: one snapshot, no write
    lock (a write on it would have to upgrade the lock and may fail with SQLITE_BUSY: do not).
    On PostgreSQL it is an ordinary transaction."""
    with engine.connect() as connection:
        yield connection.execution_options(**{READ_ONLY_OPTION: True})


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration built in code, so it works from an installed package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # '%' is ConfigParser interpolation syntax; URLs with escaped passwords contain it.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def stored_revision(engine: Engine) -> str | None:
    """The revision the database is at (alembic_version), or None when it has none yet."""
    try:
        with read_only(engine) as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except (OperationalError, ProgrammingError):  # no such table: a new database
        return None
    return rows[0] if len(rows) == 1 else None


def upgrade(engine_or_url: Engine | str | None = None, revision: str = "head") -> None:
    """Run the migrations up to `revision` (default head). The only way the schema is made.

    Every command that opens the books calls this. A database already at HEAD_REVISION answers
    from one SELECT without importing Alembic (a CLI command starts ~0.15 s sooner); a test
    checks HEAD_REVISION against Alembic's own head, so a new migration cannot be skipped."""
    if revision == "head" and isinstance(engine_or_url, Engine) and stored_revision(engine_or_url) == HEAD_REVISION:
        return
    from alembic import command

    _run_alembic(engine_or_url, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine_or_url: Engine | str | None = None, revision: str = "base") -> None:
    """Run the migrations down to `revision` (default: an empty database)."""
    from alembic import command

    _run_alembic(engine_or_url, lambda cfg: command.downgrade(cfg, revision))


def _run_alembic(engine_or_url: Engine | str | None, run: Callable[[Config], None]) -> None:
    own_engine = not isinstance(engine_or_url, Engine)
    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection  # env.py runs on this connection
            run(config)
    finally:
        if own_engine:
            engine.dispose()
