"""The shell around the domain: SQLAlchemy tables, repositories, unit of work, Alembic migrations.

`Engine` and `Connection` are re-exported so that services can name them in signatures without
importing SQLAlchemy (a contract: services hold no SQL).

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) is production. Select with
LENDSTACK_DATABASE_URL. The schema is made only by migrations: `upgrade(engine)`.
"""

from sqlalchemy import Connection, Engine

from lendstack.store.db import database_url, downgrade, make_engine, upgrade
from lendstack.store.idempotency import IdempotencyConflict, IdempotencyError, IdempotencyStore
from lendstack.store.ledger_repo import (
    EntryColumns,
    LedgerMismatch,
    PostingColumns,
    SqlLedger,
    columns_from_entries,
)
from lendstack.store.outbox import Outbox
from lendstack.store.uow import UnitOfWork

__all__ = [
    "Connection",
    "Engine",
    "EntryColumns",
    "IdempotencyConflict",
    "IdempotencyError",
    "IdempotencyStore",
    "LedgerMismatch",
    "Outbox",
    "PostingColumns",
    "SqlLedger",
    "UnitOfWork",
    "columns_from_entries",
    "database_url",
    "downgrade",
    "make_engine",
    "upgrade",
]
