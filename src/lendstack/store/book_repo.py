"""The book's business date (营业日期): one row, read and moved in the caller's transaction.

End of day moves it (services.eod); a new book gets it from its first dated command or from
`lendstack db upgrade --business-date`; nothing else writes it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select, update

from lendstack.invariants import InvariantError
from lendstack.store.tables import book_state

BOOK_ID = "book"


class BookRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def business_date(self, *, lock: str = "") -> date | None:
        """The business date, None for a book that has none yet. On PostgreSQL, lock="share" (money
        commands: they do not block each other) or "update" (an end of day chunk, moving the date)
        makes a command and end of day exclude each other, so end of day never closes a loan from a
        state a concurrent command is changing. SQLite serialises writers already."""
        assert lock in ("", "share", "update"), lock
        query = select(book_state.c.business_date).where(book_state.c.book_id == BOOK_ID)
        if lock and self.connection.dialect.name == "postgresql":
            query = query.with_for_update(read=lock == "share")
        value = self.connection.execute(query).scalar()
        return value if value is None or isinstance(value, date) else date.fromisoformat(str(value))

    def open(self, day: date) -> None:
        """Give a book without a business date its first one."""
        if self.business_date() is not None:
            raise InvariantError("the book already has a business date")
        self.connection.execute(insert(book_state).values(book_id=BOOK_ID, business_date=day,
                                                          updated_at=datetime.now(UTC)))

    def move(self, from_day: date, to_day: date) -> None:
        """End of day: from `from_day` to the next day; refused if someone moved it meanwhile."""
        if to_day <= from_day:
            raise InvariantError(f"the business date moves forward only: {from_day} -> {to_day}")
        result = self.connection.execute(
            update(book_state).where(book_state.c.book_id == BOOK_ID, book_state.c.business_date == from_day)
            .values(business_date=to_day, updated_at=datetime.now(UTC)))
        if result.rowcount != 1:
            raise InvariantError(f"the business date moved away from {from_day} during end of day")
