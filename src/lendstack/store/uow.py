"""Unit of work: one connection, one transaction, every repository on it.

    with UnitOfWork(engine) as uow:
        uow.ledger.post(entries)
        uow.outbox.add(event)
    # committed here; an exception inside the block rolls everything back

On SQLite the transaction starts with BEGIN IMMEDIATE (see db.make_engine): writers queue for the
write lock up front, so a unit of work never fails halfway with "database is locked".
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from lendstack.store.book_repo import BookRepository
from lendstack.store.idempotency import IdempotencyStore
from lendstack.store.ledger_repo import SqlLedger
from lendstack.store.loan_repo import LoanRepository
from lendstack.store.outbox import Outbox


class UnitOfWork:
    connection: Connection
    ledger: SqlLedger
    outbox: Outbox
    idempotency: IdempotencyStore
    loans: LoanRepository
    book: BookRepository

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stack: ExitStack | None = None

    def __enter__(self) -> Self:
        assert self._stack is None, "a UnitOfWork is entered once"
        with ExitStack() as stack:
            self.connection = stack.enter_context(self.engine.begin())
            self.ledger = SqlLedger(self.connection)
            self.outbox = Outbox(self.connection)
            self.idempotency = IdempotencyStore(self.connection)
            self.loans = LoanRepository(self.connection)
            self.book = BookRepository(self.connection)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # engine.begin()'s context commits on a clean exit and rolls back on an exception.
        stack, self._stack = self._stack, None
        assert stack is not None, "__exit__ without __enter__"
        stack.__exit__(exc_type, exc, tb)
