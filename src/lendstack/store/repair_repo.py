"""Credit repair's storage: the borrower's loans and repayment history as the program reads them,
and its applications and grants. The SQL of services/credit_repair.py.

A borrower's loans are found through the acting decisions (applicant → applications → loans);
the history comes back as polars frames for `monitoring.portfolio.installment_paid_dates`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select

from lendstack.invariants import check
from lendstack.ledger import AccountCode, EntryKind
from lendstack.monitoring.credit_repair import RepairApplication, RepairGrant
from lendstack.store.portfolio_repo import reversed_entries
from lendstack.store.tables import installments, journal_entries, loans, postings
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_repair import credit_repair_applications as apps
from lendstack.store.tables_repair import credit_repair_grants as grants

APPLICATIONS_MAX = 1_000  # listed at once
INSTALLMENT_SCHEMA = {"loan_id": pl.String, "seq": pl.Int64, "due_date": pl.Date, "principal_minor": pl.Int64,
                      "interest_minor": pl.Int64, "fee_minor": pl.Int64, "capitalized": pl.Boolean}
PAYMENT_SCHEMA = {"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64}


class RepairRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ------------------------------------------------------------------ the borrower

    def loan_exists(self, loan_id: str) -> bool:
        query = select(loans.c.loan_id).where(loans.c.loan_id == loan_id)
        return self.connection.execute(query).first() is not None

    def existing_loans(self, loan_ids: Sequence[str]) -> list[str]:
        """Those of `loan_ids` that are booked, sorted."""
        query = select(loans.c.loan_id).where(loans.c.loan_id.in_(list(loan_ids)))
        return sorted(str(r) for r in self.connection.execute(query).scalars())

    def loan_ids(self) -> list[str]:
        """Every loan of the book."""
        return [str(r) for r in self.connection.execute(select(loans.c.loan_id)).scalars()]

    def acting_applicant(self, application_id: str) -> str:
        """The applicant of the application's acting decision ('' if none)."""
        c = decisions.c
        found = self.connection.execute(select(c.applicant_id).where(c.application_id == application_id,
                                                                     c.acting.is_(True))).scalar()
        return str(found or "")

    def acting_applications(self, applicant_id: str, limit: int) -> list[str]:
        """The applicant's applications with an acting decision (at most `limit`)."""
        c = decisions.c
        query = select(c.application_id).where(c.applicant_id == applicant_id, c.acting.is_(True)).limit(limit)
        return [str(a) for a in self.connection.execute(query).scalars().all()]

    def acting_applicants(self) -> dict[str, str]:
        """application id → applicant id, over every acting decision."""
        c = decisions.c
        query = select(c.application_id, c.applicant_id).where(c.acting.is_(True))
        return {str(r[0]): str(r[1]) for r in self.connection.execute(query)}

    def statuses(self, loan_ids: Sequence[str]) -> dict[str, str]:
        query = select(loans.c.loan_id, loans.c.status).where(loans.c.loan_id.in_(list(loan_ids)))
        return {str(r[0]): str(r[1]) for r in self.connection.execute(query).all()}

    # ------------------------------------------------------------------ the repayment history

    def installments_frame(self, loan_ids: Sequence[str]) -> pl.DataFrame:
        """The loans' installments (INSTALLMENT_SCHEMA), capitalised ones included and flagged."""
        i = installments.c
        rows = self.connection.execute(select(i.loan_id, i.seq, i.due_date, i.principal_minor, i.interest_minor,
                                              i.fee_minor, i.capitalized).where(i.loan_id.in_(list(loan_ids)))).all()
        return pl.DataFrame([tuple(r) for r in rows], orient="row", schema=INSTALLMENT_SCHEMA)

    def payments_frame(self, loan_ids: Sequence[str], kinds: Sequence[EntryKind],
                       accounts: Sequence[AccountCode]) -> pl.DataFrame:
        """Per loan and date: what entries of `kinds` repaid on `accounts`, reversed entries left out
        (PAYMENT_SCHEMA)."""
        p, e = postings.c, journal_entries.c
        query = (select(p.loan_id, e.effective_date, -func.sum(p.amount_minor))
                 .select_from(postings.join(journal_entries))
                 .where(e.kind.in_([k.value for k in kinds]), p.account_code.in_([a.value for a in accounts]),
                        p.amount_minor < 0, p.loan_id.in_(list(loan_ids)), e.entry_id.not_in(reversed_entries()))
                 .group_by(p.loan_id, e.effective_date))
        rows = [(str(r[0]), r[1], int(r[2])) for r in self.connection.execute(query).all()]
        return pl.DataFrame(rows, schema=PAYMENT_SCHEMA, orient="row")

    # ------------------------------------------------------------------ applications and grants

    def granted_records(self, borrower_id: str | None = None) -> list[tuple[str, int]]:
        """(loan_id, installment seq) of the grants of one borrower, or of everyone."""
        g = grants.c
        query = select(g.loan_id, g.installment_seq)
        if borrower_id is not None:
            query = query.where(g.borrower_id == borrower_id)
        return [(str(r[0]), int(r[1])) for r in self.connection.execute(query).all()]

    def add(self, application: RepairApplication) -> None:
        """The application and, if granted, its grant."""
        a = application
        self.connection.execute(insert(apps).values(
            application_id=a.application_id, borrower_id=a.borrower_id, applicant_id=a.applicant_id,
            loan_id=a.loan_id, applied_on=a.applied_on, status=a.status, reasons=a.reasons, evidence=a.evidence,
            program=a.program, history=a.history, created_at=a.created_at))
        if a.grant is not None:
            g = a.grant
            self.connection.execute(insert(grants).values(
                grant_id=g.grant_id, application_id=g.application_id, borrower_id=g.borrower_id, loan_id=g.loan_id,
                installment_seq=g.seq, record_type=g.record_type, due_date=g.due_date, paid_on=g.paid_on,
                days_late=g.days_late, granted_on=g.granted_on, created_at=g.created_at))

    def application(self, application_id: str) -> RepairApplication | None:
        row = self.connection.execute(select(apps).where(apps.c.application_id == application_id)).mappings().first()
        if row is None:
            return None
        grant = self.connection.execute(select(grants).where(grants.c.application_id == application_id)
                                        ).mappings().first()
        return RepairApplication(
            row["application_id"], row["borrower_id"], row["applicant_id"], row["loan_id"], row["applied_on"],
            row["status"], row["reasons"], row["evidence"], row["program"], row["history"], row["created_at"],
            _grant(grant) if grant is not None else None)

    def application_ids(self, *, borrower_id: str | None = None, status: str | None = None,
                        limit: int = APPLICATIONS_MAX, newest_first: bool = True) -> list[str]:
        """Application ids by creation time (then id), optionally of one borrower or status."""
        check(0 < limit <= APPLICATIONS_MAX, f"limit in 1..{APPLICATIONS_MAX}")
        c = apps.c
        order = (c.created_at.desc(), c.application_id) if newest_first else (c.created_at, c.application_id)
        query = select(c.application_id).order_by(*order).limit(limit)
        if borrower_id is not None:
            query = query.where(c.borrower_id == borrower_id)
        if status is not None:
            query = query.where(c.status == status)
        return [str(a) for a in self.connection.execute(query).scalars().all()]


def _grant(row: Any) -> RepairGrant:
    return RepairGrant(row["grant_id"], row["application_id"], row["borrower_id"], row["loan_id"],
                       int(row["installment_seq"]), row["record_type"], row["due_date"], row["paid_on"],
                       int(row["days_late"]), row["granted_on"], row["created_at"])
