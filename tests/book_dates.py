"""Driving a stored book's business date in tests, as operations staff do: by end of day.

Money commands are dated on the business date only (services.business_date). A test that wants to
act on day D first closes every day before D: `advance_to(engine, D)`. A new book is opened on the
day before D and closed, so its business date becomes D.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from lendstack.services.business_date import business_date
from lendstack.services.eod import EodReport, run_eod


def advance_to(engine: Engine, day: date, *, hooks: bool = False) -> EodReport | None:
    """Close end of day through the day before `day` (nothing when the book is there already)."""
    current = business_date(engine)
    if current is not None and current >= day:
        assert current == day, f"the book is at {current}, past {day}"
        return None
    return run_eod(engine, day - timedelta(days=1), hooks=hooks)
