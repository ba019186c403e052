"""The shell of credit repair (信用修复): find the borrower's loans and repayment history, run the
pure eligibility check of `lendstack.monitoring.credit_repair`, and record the application (and
the grant, when eligible) in one unit of work with its outbox event.

A borrower is the applicant behind a loan booked from a decision (`applicant:<id>`: every loan of
that applicant counts), or the loan itself when it has no stored decision (`loan:<id>`).
Bad input (unknown loan, both or neither of loan and applicant, a date after the book's last
closed day, a reused key with another request) names its field and writes nothing. A refusal is
recorded as an application with its reasons (so the borrower sees it) and marks nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lendstack.events import DomainEvent
from lendstack.ledger import EntryKind
from lendstack.monitoring.credit_repair import (
    APPLICATION_STATUSES,
    CreditRepairError,
    Eligibility,
    Installment,
    OverdueRecord,
    ProgramConfig,
    RepairApplication,
    decided_application,
    evaluate,
    overdue_records,
    program_text,
    record_id,
    record_text,
    unrepaired_by_borrower,
    unrepaired_count,
)
from lendstack.monitoring.portfolio import installment_paid_dates
from lendstack.services.monitoring import PAID_ACCOUNTS, book_date
from lendstack.services.naming import applications_of, loan_id_for, loan_ids_of
from lendstack.store import Connection, Engine, UnitOfWork
from lendstack.store.repair_repo import APPLICATIONS_MAX, RepairRepository

SCOPE = "repair.apply"
LIST_LIMIT_MAX = APPLICATIONS_MAX
LOANS_PER_BORROWER_MAX = 500
_PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)


# --------------------------------------------------------------------------- reading the borrower


def _applicant_of(conn: Connection, loan_id: str) -> str:
    application_id = applications_of(conn, [loan_id]).get(loan_id)
    if application_id is None:
        return ""
    return RepairRepository(conn).acting_applicant(application_id)


def _loans_of_applicant(conn: Connection, applicant_id: str) -> list[str]:
    repo = RepairRepository(conn)
    apps_ids = repo.acting_applications(applicant_id, LOANS_PER_BORROWER_MAX)
    return repo.existing_loans(list(loan_ids_of(conn, apps_ids).values()))


def resolve_borrower(conn: Connection, loan_id: str | None, applicant_id: str | None) -> tuple[str, str, list[str]]:
    """(borrower_id, applicant_id or '', the borrower's loan ids); CreditRepairError naming the field."""
    if (loan_id is None) == (applicant_id is None):
        raise CreditRepairError("loan_id", "name exactly one of loan_id and applicant_id")
    if loan_id is not None:
        if not loan_id or not RepairRepository(conn).loan_exists(loan_id):
            raise CreditRepairError("loan_id", f"no loan {loan_id!r}")
        applicant_id = _applicant_of(conn, loan_id)
        if not applicant_id:
            return f"loan:{loan_id}", "", [loan_id]
    assert applicant_id is not None
    owned = _loans_of_applicant(conn, applicant_id) if applicant_id else []
    if not owned:
        raise CreditRepairError("applicant_id", f"no booked loan for applicant {applicant_id!r}")
    return f"applicant:{applicant_id}", applicant_id, owned


def read_history(conn: Connection, loan_ids: list[str]) -> list[Installment]:
    """The loans' installments (capitalised ones excluded) with the date each was paid off."""
    repo = RepairRepository(conn)
    frame = repo.installments_frame(loan_ids)
    paid = installment_paid_dates(frame, repo.payments_frame(loan_ids, _PAYMENT_KINDS, PAID_ACCOUNTS))
    return [Installment(r["loan_id"], int(r["seq"]), r["due_date"], r["paid_on"])
            for r in paid.sort("loan_id", "seq").iter_rows(named=True)]


def _granted(conn: Connection, borrower_id: str) -> list[str]:
    return sorted(record_id(loan, seq) for loan, seq in RepairRepository(conn).granted_records(borrower_id))


def _check_day(conn: Connection, on: date) -> None:
    closed = book_date(conn)
    if closed is None or on > closed:
        raise CreditRepairError("on", f"{on} is after the book's last closed day ({closed}): its history is unknown")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class EligibilityCheck:
    """What an application would decide today, for one borrower."""

    borrower_id: str
    applicant_id: str  # '' when the borrower is a loan without a stored decision
    loans: tuple[str, ...]
    result: Eligibility

    def to_json(self) -> dict[str, Any]:
        return {"borrower_id": self.borrower_id, "applicant_id": self.applicant_id, "loans": list(self.loans),
                **_eligibility_view(self.result)}


@dataclass(frozen=True, slots=True)
class RecordView:
    """An overdue record as the borrower sees it: repaired or not, with its text."""

    record: OverdueRecord
    repaired: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "repaired": self.repaired, "text": record_text(self.record, self.repaired)}


@dataclass(frozen=True, slots=True)
class BorrowerView:
    """What the borrower sees: the program, their overdue records and their applications."""

    borrower_id: str
    applicant_id: str
    loans: tuple[str, ...]
    as_of: date
    program: ProgramConfig
    records: tuple[RecordView, ...]
    unrepaired_overdue_records: int
    applications: tuple[RepairApplication, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "borrower_id": self.borrower_id, "applicant_id": self.applicant_id, "loans": list(self.loans),
            "as_of": self.as_of.isoformat(),
            "program": {**self.program.to_dict(), "text": program_text(self.program)},
            "records": [r.to_json() for r in self.records],
            "unrepaired_overdue_records": self.unrepaired_overdue_records,
            "applications": [a.to_json() for a in self.applications],
        }


# --------------------------------------------------------------------------- commands


def check_eligibility(engine: Engine, *, on: date, loan_id: str | None = None, applicant_id: str | None = None,
                      record: str | None = None, program: ProgramConfig | None = None) -> EligibilityCheck:
    """What an application would decide today; writes nothing."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        _check_day(conn, on)
        result = _evaluate(conn, borrower_id, owned, on, cfg, record)
    return EligibilityCheck(borrower_id, applicant, tuple(owned), result)


def _evaluate(conn: Connection, borrower_id: str, owned: list[str], on: date, cfg: ProgramConfig,
              record: str | None) -> Eligibility:
    statuses = RepairRepository(conn).statuses(owned)
    return evaluate(read_history(conn, owned), statuses, on, cfg, _granted(conn, borrower_id), record)


def _eligibility_view(result: Eligibility) -> dict[str, Any]:
    return {"eligible": result.eligible, "months_on_time": result.months_on_time,
            "reasons": [r.to_dict() for r in result.reasons],
            "record": result.record.to_dict() if result.record else None, "evidence": result.evidence}


def apply_for_repair(
    engine: Engine, *, on: date, key: str, loan_id: str | None = None, applicant_id: str | None = None,
    record: str | None = None, program: ProgramConfig | None = None, by: str = "borrower",
) -> RepairApplication:
    """Record an application; grant (mark one historical overdue record repaired) when eligible.
    Idempotent per key: a retry returns the first result and writes nothing (the cache keeps the
    application's JSON; a retry reads the stored application back, which is never changed)."""
    cfg = program or ProgramConfig()
    if not key or len(key) > 255:
        raise CreditRepairError("key", "an idempotency key of 1..255 characters is required")
    request = {"on": on.isoformat(), "loan_id": loan_id, "applicant_id": applicant_id, "record": record,
               "program": cfg.to_dict(), "by": by}
    with UnitOfWork(engine) as uow:
        cached = uow.idempotency.lookup(SCOPE, key, request)
        if cached is not None:
            return _application(uow.connection, str(cached["application_id"]))
        conn = uow.connection
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        _check_day(conn, on)
        result = _evaluate(conn, borrower_id, owned, on, cfg, record)
        application_id = "CR-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        application = decided_application(application_id, borrower_id=borrower_id, applicant_id=applicant,
                                          loan_id=loan_id or "", on=on, config=cfg, result=result, by=by,
                                          now=datetime.now(UTC))
        RepairRepository(conn).add(application)
        uow.outbox.add(DomainEvent.new(f"credit_repair.{'granted' if result.eligible else 'refused'}",
                                       "credit_repair", application_id,
                                       {"borrower_id": borrower_id, "on": on.isoformat(),
                                        "record_id": result.record.record_id if result.record else None,
                                        "reasons": [r.code for r in result.reasons]}))
        # Read back, as `application` shows it (the JSON columns as the database returns them).
        stored = _application(conn, application_id)
        uow.idempotency.record(SCOPE, key, request, stored.to_json())
    return stored


# --------------------------------------------------------------------------- views


def _application(conn: Connection, application_id: str) -> RepairApplication:
    found = RepairRepository(conn).application(application_id)
    if found is None:
        raise CreditRepairError("application_id", f"no credit-repair application {application_id!r}")
    return found


def application(engine: Engine, application_id: str) -> RepairApplication:
    with engine.connect() as conn:
        return _application(conn, application_id)


def list_applications(engine: Engine, *, borrower_id: str | None = None, status: str | None = None,
                      limit: int = 100) -> list[RepairApplication]:
    """Applications newest first, optionally of one borrower or status."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise CreditRepairError("limit", f"between 1 and {LIST_LIMIT_MAX}")
    if status is not None and status not in APPLICATION_STATUSES:
        raise CreditRepairError("status", f"one of {', '.join(APPLICATION_STATUSES)}")
    with engine.connect() as conn:
        ids = RepairRepository(conn).application_ids(borrower_id=borrower_id, status=status, limit=limit)
        return [_application(conn, a) for a in ids]


def borrower_view(engine: Engine, *, loan_id: str | None = None, applicant_id: str | None = None,
                  on: date | None = None, program: ProgramConfig | None = None) -> BorrowerView:
    """What the borrower sees: the program, their overdue records (repaired or not) and their
    applications, with text in English and Chinese."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        day = on or book_date(conn) or date.today()
        records = overdue_records(read_history(conn, owned), day, cfg)
        granted = set(_granted(conn, borrower_id))
        ids = RepairRepository(conn).application_ids(borrower_id=borrower_id, limit=LIST_LIMIT_MAX,
                                                     newest_first=False)
        applications = tuple(_application(conn, a) for a in ids)
    return BorrowerView(borrower_id, applicant, tuple(owned), day, cfg,
                        tuple(RecordView(r, r.record_id in granted) for r in records),
                        unrepaired_count(records, granted), applications)


def unrepaired_overdue_counts(engine: Engine, on: date | None = None,
                              program: ProgramConfig | None = None) -> dict[str, int]:
    """For internal scoring: per borrower, the overdue records (historical or current) not marked
    repaired. Borrowers with none are listed with 0."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        day = on or book_date(conn) or date.today()
        borrower_of = _borrowers(conn)
        history = read_history(conn, sorted(borrower_of))
        repaired = {record_id(loan, seq) for loan, seq in RepairRepository(conn).granted_records()}
    return unrepaired_by_borrower(overdue_records(history, day, cfg), repaired, borrower_of)


def _borrowers(conn: Connection) -> dict[str, str]:
    """loan_id -> borrower_id for every loan in the book."""
    repo = RepairRepository(conn)
    applicant_of = repo.acting_applicants()
    loan_of = loan_ids_of(conn, applicant_of)
    applicant_by_loan = {loan_of.get(a) or loan_id_for(a, ""): who for a, who in applicant_of.items()}
    return {i: f"applicant:{applicant_by_loan[i]}" if applicant_by_loan.get(i) else f"loan:{i}"
            for i in repo.loan_ids()}
