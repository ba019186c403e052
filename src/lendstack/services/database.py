"""Opening the book's database, for the shells (API, console, CLI), which import no `store`.

`open_engine` is the one way a shell gets an engine: the configured URL (LENDSTACK_DATABASE_URL,
default SQLite `lendstack.db` in the working directory), migrated to head unless the caller says
otherwise (a test that hands in its own migrated engine, a read-only tool).

The store is imported inside the functions: the CLI starts without SQLAlchemy (issue 14 item 8),
and only commands that touch the books load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the store (and SQLAlchemy) load inside the functions
    from lendstack.store import Engine

__all__ = ["database_url", "open_engine"]


def database_url() -> str:
    """The configured database URL: LENDSTACK_DATABASE_URL, else a SQLite file in the cwd."""
    from lendstack.store import database_url as store_database_url

    return store_database_url()


def open_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """An engine on `url` (default: `database_url()`), migrated to head when `migrate`."""
    from lendstack.store import make_engine, upgrade

    engine = make_engine(url or database_url())
    if migrate:
        upgrade(engine)  # the schema is made only by migrations; idempotent at head
    return engine
