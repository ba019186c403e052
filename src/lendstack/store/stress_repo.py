"""What the stress test reads besides the loans: every installment's principal, and the acting
approvals the loans came from. Reads only, on the caller's connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from lendstack.store.tables import installments
from lendstack.store.tables_decisioning import decisions

SCHEDULE_COLUMNS = ("loan_id", "due_date", "principal_minor", "principal_paid_minor", "capitalized")
_SCHEDULE_SCHEMA = {"loan_id": pl.String, "due_date": pl.Date, "principal_minor": pl.Int64,
                    "principal_paid_minor": pl.Int64, "capitalized": pl.Boolean}


@dataclass(frozen=True, slots=True)
class Approval:
    """An acting approval as stored: `pd` and `input` are not checked here (the service reads them
    defensively: old rows may hold anything)."""

    application_id: str
    pd: Any
    segment: str | None
    input: Any


class StressRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def schedule(self) -> pl.DataFrame:
        """Every installment: loan, due date, principal due and paid, capitalised or not."""
        rows = self.connection.execute(select(*(installments.c[n] for n in SCHEDULE_COLUMNS))).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=_SCHEDULE_SCHEMA, orient="row")

    def approvals(self) -> list[Approval]:
        """Every acting decision that approved."""
        c = decisions.c
        rows = self.connection.execute(select(c.application_id, c.pd, c.segment, c.input)
                                       .where(c.acting.is_(True), c.outcome == "approve")).all()
        return [Approval(str(r[0]), r[1], None if r[2] is None else str(r[2]), r[3]) for r in rows]
