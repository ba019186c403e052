"""What every command that touches the books needs: the engine, migrated to head."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from lendstack.money import MoneyError

if TYPE_CHECKING:  # the CLI starts without SQLAlchemy: only commands that touch the books load it
    from sqlalchemy import Engine


def open_engine(url: str | None = None) -> Engine:
    """The configured database (LENDSTACK_DATABASE_URL, default SQLite lendstack.db), migrated."""
    from lendstack.services.database import open_engine as open_database

    return open_database(url)


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MoneyError(field, f"not a date in YYYY-MM-DD form: {value!r}") from exc
