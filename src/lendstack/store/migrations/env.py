"""Alembic environment. Run programmatically by lendstack.store.db.upgrade, which hands over an
open connection in config.attributes["connection"]; the alembic CLI (alembic.ini beside this
file) connects from sqlalchemy.url or LENDSTACK_DATABASE_URL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from lendstack.store.db import database_url, make_engine
from lendstack.store.tables import metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations use batch mode (copy-and-move).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with engine.begin() as own_connection:
            run_migrations(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_online()
