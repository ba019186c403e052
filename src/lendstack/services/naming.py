"""How records name each other across the flow, in one place.

The loan an accepted offer books gets a random id, stored on its application (`applications.loan_id`,
`services.decisions.accept_offer`): an outsider who knows an application id cannot guess its loan's.
Before migration 0014 the loan was named "L-" + the application id; such loans (and loans booked by
hand under that name) still join back to their application when its stored loan id is empty.
Monitoring, stress, credit repair, collections, reports and the console join loans back to their
applications (segment, region, PD, applicant) through `loan_id_column` / `loan_id_for`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator

from sqlalchemy import ColumnElement, Connection, Table, and_, func, literal, or_, select

from lendstack.store.tables_origination import applications as applications_table

LOAN_PREFIX = "L-"  # the naming rule before 0014
NEW_LOAN_PREFIX = "LN-"
_LOAN_TOKEN_BYTES = 16  # 128 random bits
IN_LIST_MAX = 5_000


def new_loan_id() -> str:
    """A fresh, unguessable id for the loan an accepted offer books."""
    return NEW_LOAN_PREFIX + secrets.token_hex(_LOAN_TOKEN_BYTES)


def loan_id_for(application_id: str, stored_loan_id: str) -> str:
    """The loan booked (or to be booked under the old rule) from an application, given its stored loan id."""
    assert application_id, "an application id is never empty"
    return stored_loan_id or LOAN_PREFIX + application_id


def loan_id_column(applications: Table) -> ColumnElement[str]:
    """`loan_id_for` in SQL, over the applications table."""
    a = applications.c
    return func.coalesce(func.nullif(a.loan_id, ""), literal(LOAN_PREFIX) + a.application_id)


def loan_ids_of(conn: Connection, application_ids: Iterable[str]) -> dict[str, str]:
    """application id → its loan id (`loan_id_for`), for the given applications that exist."""
    a = applications_table.c
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(application_ids))):
        for r in conn.execute(select(a.application_id, a.loan_id).where(a.application_id.in_(chunk))):
            out[str(r.application_id)] = loan_id_for(str(r.application_id), str(r.loan_id))
    return out


def applications_of(conn: Connection, loan_ids: Iterable[str]) -> dict[str, str]:
    """loan id → the application it was booked from, for the loans that were (stored id, or the old rule)."""
    a = applications_table.c
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(loan_ids))):
        legacy = [i[len(LOAN_PREFIX):] for i in chunk if i.startswith(LOAN_PREFIX) and len(i) > len(LOAN_PREFIX)]
        query = select(a.application_id, a.loan_id).where(
            or_(a.loan_id.in_(chunk), and_(a.loan_id == "", a.application_id.in_(legacy))))
        for r in conn.execute(query):
            out[loan_id_for(str(r.application_id), str(r.loan_id))] = str(r.application_id)
    return out


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_LIST_MAX):  # bounded IN lists
        yield ids[start:start + IN_LIST_MAX]
