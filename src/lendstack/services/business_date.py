"""The book's business date (营业日期): the one day money commands are dated on.

- It is the day after the last day end of day closed. `lendstack eod` is the only thing that moves
  it (services.eod), one day at a time, after the day's loans and its after-loan hooks are done.
- A new book has none until it is opened: by `lendstack db upgrade --business-date D`, or by the
  first money command, whose date becomes the business date (a simulation or an import starts its
  book on its own first day; an undated first command opens it on today's UTC date). An end of
  day on a book without one opens it on the day it closes.
- Every money command (book, disburse, repay, prepay, refund, restructure, write-off, recover,
  reverse) is dated on it, or refused naming `on` and writing nothing: a date after it would close
  days silently; a date before it would post into a closed day (correct the past with a reversal).
  Commands that leave `on` out are dated on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lendstack.errors import ErrorKind
from lendstack.servicing import ServicingError
from lendstack.store import Engine, UnitOfWork

# A book opens on a plausible day: a year like 0001 or 9999 is a typo that would date everything after it.
OPEN_YEARS = range(1990, 2201)


def check_opening(day: date, field: str) -> date:
    if day.year not in OPEN_YEARS:
        raise ServicingError(field, f"{day} is not a plausible first business date (years {OPEN_YEARS.start}.."
                                    f"{OPEN_YEARS.stop - 1})")
    return day


def business_date(engine: Engine) -> date | None:
    with UnitOfWork(engine) as uow:
        return uow.book.business_date()


def last_closed_day(engine: Engine) -> date | None:
    """The last day end of day closed (the day before the business date), None for a new book."""
    found = business_date(engine)
    return None if found is None else found - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BookOpening:
    """The book's business date after `open_book`, and whether this call set it."""

    business_date: date
    opened: bool

    def to_json(self) -> dict[str, Any]:
        return {"business_date": self.business_date.isoformat(), "opened": self.opened}


def open_book(engine: Engine, day: date) -> BookOpening:
    """Give a new book its business date; the same date again is a no-op, another one is refused."""
    check_opening(day, "business_date")
    with UnitOfWork(engine) as uow:
        current = uow.book.business_date(lock="update")
        if current is None:
            uow.book.open(day)
            return BookOpening(day, opened=True)
    if current != day:
        raise ServicingError("business_date", f"the book's business date is already {current}; only end of day "
                                              "moves it (lendstack eod)", kind=ErrorKind.CONFLICT)
    return BookOpening(current, opened=False)


def dated(uow: UnitOfWork, on: date | None, field: str = "on") -> date:
    """The date of a money command in this unit of work: `on` when it is the business date, the
    business date when `on` is left out; a new book is opened on `on`. Anything else is refused."""
    current = uow.book.business_date(lock="share")
    if current is None:
        first = check_opening(on or datetime.now(UTC).date(), field)  # undated: a live book opens today
        uow.book.open(first)
        return first
    if on is None or on == current:
        return current
    if on > current:
        raise ServicingError(field, f"{on} is after the business date {current}: run end of day to move the book "
                                    "forward (lendstack eod); nothing is dated in the future")
    raise ServicingError(field, f"{on} is before the business date {current}: days up to "
                                f"{current - timedelta(days=1)} are closed; correct a past payment with a reversal "
                                "dated today (lendstack loan reverse)")
