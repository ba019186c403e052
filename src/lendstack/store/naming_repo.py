"""Loans ↔ the applications they were booked from, in SQL (the rule itself is
`origination.loan_ids.loan_id_for`): `loan_id_column` for joins, `LoanNamingRepository` for lookups."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import ColumnElement, Connection, FromClause, and_, func, literal, or_, select

from lendstack.origination.loan_ids import LOAN_PREFIX, loan_id_for
from lendstack.store.tables_origination import applications

IN_LIST_MAX = 5_000


def loan_id_column(table: FromClause = applications) -> ColumnElement[str]:
    """`loan_id_for` in SQL, over the applications table."""
    a = table.c
    return func.coalesce(func.nullif(a.loan_id, ""), literal(LOAN_PREFIX) + a.application_id)


class LoanNamingRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def loan_ids_of(self, application_ids: Iterable[str]) -> dict[str, str]:
        """application id → its loan id (`loan_id_for`), for the given applications that exist."""
        a = applications.c
        out: dict[str, str] = {}
        for chunk in _chunks(sorted(set(application_ids))):
            for r in self.connection.execute(select(a.application_id, a.loan_id).where(a.application_id.in_(chunk))):
                out[str(r.application_id)] = loan_id_for(str(r.application_id), str(r.loan_id))
        return out

    def applications_of(self, loan_ids: Iterable[str]) -> dict[str, str]:
        """loan id → the application it was booked from, for the loans that were (stored id, or the old rule)."""
        a = applications.c
        out: dict[str, str] = {}
        for chunk in _chunks(sorted(set(loan_ids))):
            legacy = [i[len(LOAN_PREFIX):] for i in chunk if i.startswith(LOAN_PREFIX) and len(i) > len(LOAN_PREFIX)]
            query = select(a.application_id, a.loan_id).where(
                or_(a.loan_id.in_(chunk), and_(a.loan_id == "", a.application_id.in_(legacy))))
            for r in self.connection.execute(query):
                out[loan_id_for(str(r.application_id), str(r.loan_id))] = str(r.application_id)
        return out


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_LIST_MAX):  # bounded IN lists
        yield ids[start:start + IN_LIST_MAX]
