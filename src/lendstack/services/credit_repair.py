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
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select

from lendstack.events import DomainEvent
from lendstack.ledger import EntryKind
from lendstack.monitoring.credit_repair import (
    STATUS_TEXT,
    CreditRepairError,
    Eligibility,
    Installment,
    ProgramConfig,
    evaluate,
    grant_text,
    overdue_records,
    record_id,
    unrepaired_count,
)
from lendstack.monitoring.portfolio import installment_paid_dates
from lendstack.services.monitoring import PAID_ACCOUNTS, book_date, reversed_entries
from lendstack.services.naming import applications_of, loan_id_for, loan_ids_of
from lendstack.store import UnitOfWork
from lendstack.store.tables import installments, journal_entries, loans, postings
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_repair import credit_repair_applications as apps
from lendstack.store.tables_repair import credit_repair_grants as grants

SCOPE = "repair.apply"
LIST_LIMIT_MAX = 1_000
LOANS_PER_BORROWER_MAX = 500
_PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)


# --------------------------------------------------------------------------- reading the borrower


def _applicant_of(conn: Connection, loan_id: str) -> str:
    application_id = applications_of(conn, [loan_id]).get(loan_id)
    if application_id is None:
        return ""
    c = decisions.c
    found = conn.execute(select(c.applicant_id).where(c.application_id == application_id,
                                                      c.acting.is_(True))).scalar()
    return str(found or "")


def _loans_of_applicant(conn: Connection, applicant_id: str) -> list[str]:
    c = decisions.c
    apps_ids = conn.execute(select(c.application_id).where(c.applicant_id == applicant_id, c.acting.is_(True))
                            .limit(LOANS_PER_BORROWER_MAX)).scalars().all()
    wanted = list(loan_ids_of(conn, (str(a) for a in apps_ids)).values())
    return sorted(str(r) for r in conn.execute(select(loans.c.loan_id).where(loans.c.loan_id.in_(wanted))).scalars())


def resolve_borrower(conn: Connection, loan_id: str | None, applicant_id: str | None) -> tuple[str, str, list[str]]:
    """(borrower_id, applicant_id or '', the borrower's loan ids); CreditRepairError naming the field."""
    if (loan_id is None) == (applicant_id is None):
        raise CreditRepairError("loan_id", "name exactly one of loan_id and applicant_id")
    if loan_id is not None:
        if not loan_id or conn.execute(select(loans.c.loan_id).where(loans.c.loan_id == loan_id)).first() is None:
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
    i = installments.c
    rows = conn.execute(select(i.loan_id, i.seq, i.due_date, i.principal_minor, i.interest_minor, i.fee_minor,
                               i.capitalized).where(i.loan_id.in_(loan_ids))).all()
    frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
        "loan_id": pl.String, "seq": pl.Int64, "due_date": pl.Date, "principal_minor": pl.Int64,
        "interest_minor": pl.Int64, "fee_minor": pl.Int64, "capitalized": pl.Boolean})
    paid = installment_paid_dates(frame, _payments(conn, loan_ids))
    return [Installment(r["loan_id"], int(r["seq"]), r["due_date"], r["paid_on"])
            for r in paid.sort("loan_id", "seq").iter_rows(named=True)]


def _payments(conn: Connection, loan_ids: list[str]) -> pl.DataFrame:
    """Per loan and date: principal + interest + fee repaid (as services.monitoring.read_payments)."""
    p, e = postings.c, journal_entries.c
    query = (select(p.loan_id, e.effective_date, -func.sum(p.amount_minor))
             .select_from(postings.join(journal_entries))
             .where(e.kind.in_([k.value for k in _PAYMENT_KINDS]),
                    p.account_code.in_([a.value for a in PAID_ACCOUNTS]), p.amount_minor < 0,
                    p.loan_id.in_(loan_ids), e.entry_id.not_in(reversed_entries()))
             .group_by(p.loan_id, e.effective_date))
    rows = [(str(r[0]), r[1], int(r[2])) for r in conn.execute(query).all()]
    return pl.DataFrame(rows, schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64},
                        orient="row")


def _statuses(conn: Connection, loan_ids: list[str]) -> dict[str, str]:
    rows = conn.execute(select(loans.c.loan_id, loans.c.status).where(loans.c.loan_id.in_(loan_ids))).all()
    return {str(r[0]): str(r[1]) for r in rows}


def _book_date(conn: Connection) -> date | None:
    """The last day end of day closed (the day before the business date)."""
    return book_date(conn)


def _granted(conn: Connection, borrower_id: str) -> list[str]:
    g = grants.c
    rows = conn.execute(select(g.loan_id, g.installment_seq).where(g.borrower_id == borrower_id)).all()
    return sorted(record_id(str(r[0]), int(r[1])) for r in rows)


def _check_day(conn: Connection, on: date) -> None:
    closed = _book_date(conn)
    if closed is None or on > closed:
        raise CreditRepairError("on", f"{on} is after the book's last closed day ({closed}): its history is unknown")


# --------------------------------------------------------------------------- commands


def check_eligibility(engine: Engine, *, on: date, loan_id: str | None = None, applicant_id: str | None = None,
                      record: str | None = None, program: ProgramConfig | None = None) -> dict[str, Any]:
    """What an application would decide today; writes nothing."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        _check_day(conn, on)
        result = _evaluate(conn, borrower_id, owned, on, cfg, record)
    return {"borrower_id": borrower_id, "applicant_id": applicant, "loans": owned, **_eligibility_view(result)}


def _evaluate(conn: Connection, borrower_id: str, owned: list[str], on: date, cfg: ProgramConfig,
              record: str | None) -> Eligibility:
    return evaluate(read_history(conn, owned), _statuses(conn, owned), on, cfg, _granted(conn, borrower_id), record)


def _eligibility_view(result: Eligibility) -> dict[str, Any]:
    return {"eligible": result.eligible, "months_on_time": result.months_on_time,
            "reasons": [r.to_dict() for r in result.reasons],
            "record": result.record.to_dict() if result.record else None, "evidence": result.evidence}


def apply_for_repair(
    engine: Engine, *, on: date, key: str, loan_id: str | None = None, applicant_id: str | None = None,
    record: str | None = None, program: ProgramConfig | None = None, by: str = "borrower",
) -> dict[str, Any]:
    """Record an application; grant (mark one historical overdue record repaired) when eligible.
    Idempotent per key: a retry returns the first result and writes nothing."""
    cfg = program or ProgramConfig()
    if not key or len(key) > 255:
        raise CreditRepairError("key", "an idempotency key of 1..255 characters is required")
    request = {"on": on.isoformat(), "loan_id": loan_id, "applicant_id": applicant_id, "record": record,
               "program": cfg.to_dict(), "by": by}
    with UnitOfWork(engine) as uow:
        cached = uow.idempotency.lookup(SCOPE, key, request)
        if cached is not None:
            return cached
        conn = uow.connection
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        _check_day(conn, on)
        result = _evaluate(conn, borrower_id, owned, on, cfg, record)
        application_id = "CR-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        _insert(conn, application_id, borrower_id, applicant, loan_id or "", on, cfg, result, by)
        uow.outbox.add(DomainEvent.new(f"credit_repair.{'granted' if result.eligible else 'refused'}",
                                       "credit_repair", application_id,
                                       {"borrower_id": borrower_id, "on": on.isoformat(),
                                        "record_id": result.record.record_id if result.record else None,
                                        "reasons": [r.code for r in result.reasons]}))
        view = _application_view(conn, application_id)
        uow.idempotency.record(SCOPE, key, request, view)
    return view


def _insert(conn: Connection, application_id: str, borrower_id: str, applicant: str, loan_id: str, on: date,
            cfg: ProgramConfig, result: Eligibility, by: str) -> None:
    now = datetime.now(UTC)
    status = "granted" if result.eligible else "refused"
    history = [{"action": "applied", "at": now.isoformat(), "by": by},
               {"action": status, "at": now.isoformat(), "by": "program",
                "record_id": result.record.record_id if result.record else None}]
    conn.execute(insert(apps).values(
        application_id=application_id, borrower_id=borrower_id, applicant_id=applicant, loan_id=loan_id,
        applied_on=on, status=status, reasons=[r.to_dict() for r in result.reasons],
        evidence=result.evidence, program=cfg.to_dict(), history=history, created_at=now))
    if result.record is not None:
        record = result.record
        assert result.eligible and record.paid_on is not None, "only a historical record is repaired"
        conn.execute(insert(grants).values(
            grant_id=f"G-{application_id}", application_id=application_id, borrower_id=borrower_id,
            loan_id=record.loan_id, installment_seq=record.seq, record_type=record.record_type,
            due_date=record.due_date, paid_on=record.paid_on, days_late=record.days_late, granted_on=on,
            created_at=now))


# --------------------------------------------------------------------------- views


def _application_view(conn: Connection, application_id: str) -> dict[str, Any]:
    row = conn.execute(select(apps).where(apps.c.application_id == application_id)).mappings().first()
    if row is None:
        raise CreditRepairError("application_id", f"no credit-repair application {application_id!r}")
    grant = conn.execute(select(grants).where(grants.c.application_id == application_id)).mappings().first()
    en, zh = STATUS_TEXT[str(row["status"])]
    view: dict[str, Any] = {
        "application_id": row["application_id"], "borrower_id": row["borrower_id"],
        "applicant_id": row["applicant_id"], "loan_id": row["loan_id"], "applied_on": row["applied_on"].isoformat(),
        "status": row["status"], "text": {"en": en, "zh": zh}, "reasons": list(row["reasons"]),
        "evidence": dict(row["evidence"]), "program": dict(row["program"]), "history": list(row["history"]),
        "created_at": row["created_at"].isoformat(), "grant": None,
    }
    if grant is not None:
        view["grant"] = _grant_view(grant)
    return view


def _grant_view(grant: Any) -> dict[str, Any]:
    rid = record_id(str(grant["loan_id"]), int(grant["installment_seq"]))
    return {"grant_id": grant["grant_id"], "record_id": rid, "loan_id": grant["loan_id"],
            "seq": int(grant["installment_seq"]), "record_type": grant["record_type"],
            "due_date": grant["due_date"].isoformat(), "paid_on": grant["paid_on"].isoformat(),
            "days_late": int(grant["days_late"]), "granted_on": grant["granted_on"].isoformat()}


def get_application(engine: Engine, application_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return _application_view(conn, application_id)


def list_applications(engine: Engine, *, borrower_id: str | None = None, status: str | None = None,
                      limit: int = 100) -> list[dict[str, Any]]:
    """Applications newest first, optionally of one borrower or status."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise CreditRepairError("limit", f"between 1 and {LIST_LIMIT_MAX}")
    if status is not None and status not in STATUS_TEXT:
        raise CreditRepairError("status", f"one of {', '.join(STATUS_TEXT)}")
    query = select(apps.c.application_id).order_by(apps.c.created_at.desc(), apps.c.application_id).limit(limit)
    if borrower_id is not None:
        query = query.where(apps.c.borrower_id == borrower_id)
    if status is not None:
        query = query.where(apps.c.status == status)
    with engine.connect() as conn:
        return [_application_view(conn, str(a)) for a in conn.execute(query).scalars().all()]


def borrower_view(engine: Engine, *, loan_id: str | None = None, applicant_id: str | None = None,
                  on: date | None = None, program: ProgramConfig | None = None) -> dict[str, Any]:
    """What the borrower sees: the program, their overdue records (repaired or not) and their
    applications, with text in English and Chinese."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        borrower_id, applicant, owned = resolve_borrower(conn, loan_id, applicant_id)
        day = on or _book_date(conn) or date.today()
        records = overdue_records(read_history(conn, owned), day, cfg)
        granted = set(_granted(conn, borrower_id))
        ids = conn.execute(select(apps.c.application_id).where(apps.c.borrower_id == borrower_id)
                           .order_by(apps.c.created_at, apps.c.application_id).limit(LIST_LIMIT_MAX)).scalars().all()
        applications = [_application_view(conn, str(a)) for a in ids]
    return {
        "borrower_id": borrower_id, "applicant_id": applicant, "loans": owned, "as_of": day.isoformat(),
        "program": {**cfg.to_dict(), "text": _program_text(cfg)},
        "records": [_record_view(r, r.record_id in granted) for r in records],
        "unrepaired_overdue_records": unrepaired_count(records, granted),
        "applications": applications,
    }


def _program_text(cfg: ProgramConfig) -> dict[str, str]:
    return {"en": f"After {cfg.months_on_time} months of on-time repayment and with nothing overdue, up to "
                  f"{cfg.max_records} past overdue record(s) may be marked repaired for our internal scoring. "
                  "The original record is kept.",
            "zh": f"连续按时还款满{cfg.months_on_time}个月且当前无逾期的，最多可有{cfg.max_records}条历史逾期记录"
                  "在我行内部评分中标记为已修复，原始记录保留。"}


def _record_view(record: Any, repaired: bool) -> dict[str, Any]:
    en, zh = grant_text(record) if repaired else (
        f"Installment {record.seq} of loan {record.loan_id}, due {record.due_date.isoformat()}, "
        f"{record.days_late} days late", f"贷款{record.loan_id}第{record.seq}期（应还日{record.due_date.isoformat()}）"
        f"逾期{record.days_late}天")
    return {**record.to_dict(), "repaired": repaired, "text": {"en": en, "zh": zh}}


def unrepaired_overdue_counts(engine: Engine, on: date | None = None,
                              program: ProgramConfig | None = None) -> dict[str, int]:
    """For internal scoring: per borrower, the overdue records (historical or current) not marked
    repaired. Borrowers with none are listed with 0."""
    cfg = program or ProgramConfig()
    with engine.connect() as conn:
        day = on or _book_date(conn) or date.today()
        borrower_of = _borrowers(conn)
        history = read_history(conn, sorted(borrower_of))
        g = grants.c
        repaired = {record_id(str(r[0]), int(r[1])) for r in conn.execute(select(g.loan_id, g.installment_seq))}
    records = overdue_records(history, day, cfg)
    counts = dict.fromkeys(sorted(set(borrower_of.values())), 0)
    for r in records:
        if r.record_id not in repaired:
            counts[borrower_of[r.loan_id]] += 1
    return counts


def _borrowers(conn: Connection) -> dict[str, str]:
    """loan_id -> borrower_id for every loan in the book."""
    c = decisions.c
    applicant_of = {str(r[0]): str(r[1]) for r in conn.execute(
        select(c.application_id, c.applicant_id).where(c.acting.is_(True)))}
    loan_of = loan_ids_of(conn, applicant_of)
    applicant_by_loan = {loan_of.get(a) or loan_id_for(a, ""): who for a, who in applicant_of.items()}
    ids = [str(r) for r in conn.execute(select(loans.c.loan_id)).scalars()]
    return {i: f"applicant:{applicant_by_loan[i]}" if applicant_by_loan.get(i) else f"loan:{i}" for i in ids}
