"""How records name each other across the flow, in one place for the services.

The rule (`new_loan_id`, `loan_id_for`: a random `LN-` id stored on the application, or the
pre-0014 "L-" + application id) is pure and lives in `origination/loan_ids.py`; its SQL (the join
column `loan_id_column` and the lookups) in `store/naming_repo.py`. Monitoring, stress, credit
repair, collections, reports and the console join loans back to their applications (segment,
region, PD, applicant) through these names.
"""

from __future__ import annotations

from collections.abc import Iterable

from lendstack.origination.loan_ids import LOAN_PREFIX, NEW_LOAN_PREFIX, loan_id_for, new_loan_id
from lendstack.store import Connection
from lendstack.store.naming_repo import IN_LIST_MAX, LoanNamingRepository

__all__ = [
    "IN_LIST_MAX",
    "LOAN_PREFIX",
    "NEW_LOAN_PREFIX",
    "applications_of",
    "loan_id_for",
    "loan_ids_of",
    "new_loan_id",
]


def loan_ids_of(conn: Connection, application_ids: Iterable[str]) -> dict[str, str]:
    """application id → its loan id (`loan_id_for`), for the given applications that exist."""
    return LoanNamingRepository(conn).loan_ids_of(application_ids)


def applications_of(conn: Connection, loan_ids: Iterable[str]) -> dict[str, str]:
    """loan id → the application it was booked from, for the loans that were (stored id, or the old rule)."""
    return LoanNamingRepository(conn).applications_of(loan_ids)
