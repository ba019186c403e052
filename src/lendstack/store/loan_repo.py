"""Loans in the database: rows <-> servicing.Loan values, with optimistic locking.

Every save rewrites the EOD cursor columns from the loan's installments (servicing.eod_columnar
.loan_row), so the columnar end of day can trust them. The stored version rises by one per save;
a save whose loaded version is stale fails instead of overwriting someone else's change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from lendstack.errors import Conflict, ErrorKind
from lendstack.invariants import InvariantError
from lendstack.servicing import Installment, Loan, LoanCommand, LoanStatus, ServicingError
from lendstack.servicing.aging import FiveTier
from lendstack.servicing.replay import COMMANDS_PER_LOAN_MAX, terms_from_json, terms_to_json
from lendstack.store.tables import LOAN_COUNTERS, installments, loan_commands, loans


class ConcurrentUpdate(Conflict):
    """Another transaction changed the loan since it was loaded: retry the command."""

    code = "concurrent-update"

    def __init__(self, message: str) -> None:
        super().__init__("loan_id", message)


def eod_columns(loan: Loan) -> dict[str, int]:
    """The cursor columns; for a loan EOD will not touch, only the terms-derived ones."""
    from lendstack.servicing.eod_columnar import ROUNDING_CODES, loan_row  # NumPy: loaded by a write only

    t = loan.terms
    base = {
        "grace_days": t.grace_days, "penalty_ppm": t.penalty_rate_ppm,
        "penalty_on_interest": int(t.penalty_on_interest), "year_days": t.day_count.year_days,
        "rounding_code": ROUNDING_CODES[t.rounding],
    }
    if not loan.is_live or loan.accrued_through is None:
        return base
    row = loan_row(loan)
    return {
        **base, "obs_end_day": loan.observation_end.toordinal() if loan.observation_end else 0,
        "cur_start_day": row["cur_start"], "cur_due_day": row["cur_due"],
        "cur_interest_minor": row["cur_interest"], "cur_fee_minor": row["cur_fee"],
        "base_interest_minor": row["base_interest"], "base_fee_minor": row["base_fee"],
        "oldest_open_due_day": row["oldest_open_due"],
    }


def loan_values(loan: Loan) -> dict[str, Any]:
    return {
        "loan_id": loan.loan_id, "product_id": loan.terms.product_id, "currency": loan.currency,
        "funder_id": loan.funder_id, "line_id": loan.line_id, "status": loan.status.value,
        "terms": terms_to_json(loan.terms), "principal_minor": loan.principal_minor, "term": loan.term,
        "upfront_fee_minor": loan.upfront_fee_minor, "periodic_fee_minor": loan.periodic_fee_minor,
        "disbursed_on": loan.disbursed_on, "booked_on": loan.booked_on, "due_day": loan.due_day,
        **{name: getattr(loan, name) for name in LOAN_COUNTERS},
        "accrued_through": loan.accrued_through, "days_past_due": loan.days_past_due, "bucket": loan.bucket,
        "five_tier": loan.five_tier.value, "restructure_count": loan.restructure_count,
        "non_accrual": loan.non_accrual, "observation_floor": loan.observation_floor.value,
        "observation_end": loan.observation_end, "observation_missed": loan.observation_missed,
        **eod_columns(loan), "updated_at": datetime.now(UTC),
    }


def installment_values(loan: Loan) -> list[dict[str, Any]]:
    return [
        {
            "loan_id": loan.loan_id, "seq": i.seq, "period_start": i.period_start, "due_date": i.due_date,
            "principal_minor": i.principal_minor, "interest_minor": i.interest_minor, "fee_minor": i.fee_minor,
            "principal_paid_minor": i.principal_paid_minor, "interest_paid_minor": i.interest_paid_minor,
            "fee_paid_minor": i.fee_paid_minor, "capitalized": i.capitalized,
        }
        for i in loan.installments
    ]


def loan_from_rows(row: Row[Any], inst_rows: list[Row[Any]]) -> Loan:
    m = row._mapping
    return Loan(
        loan_id=m["loan_id"], terms=terms_from_json(m["terms"]), principal_minor=int(m["principal_minor"]),
        status=LoanStatus(m["status"]), term=int(m["term"]), upfront_fee_minor=int(m["upfront_fee_minor"]),
        periodic_fee_minor=int(m["periodic_fee_minor"]), funder_id=m["funder_id"], line_id=m["line_id"],
        disbursed_on=m["disbursed_on"], booked_on=m["booked_on"], due_day=int(m["due_day"]),
        installments=tuple(
            Installment(
                seq=r.seq, period_start=r.period_start, due_date=r.due_date, principal_minor=int(r.principal_minor),
                interest_minor=int(r.interest_minor), fee_minor=int(r.fee_minor),
                principal_paid_minor=int(r.principal_paid_minor), interest_paid_minor=int(r.interest_paid_minor),
                fee_paid_minor=int(r.fee_paid_minor), capitalized=bool(r.capitalized),
            )
            for r in inst_rows
        ),
        **{name: int(m[name]) for name in LOAN_COUNTERS},
        accrued_through=m["accrued_through"], days_past_due=int(m["days_past_due"]), bucket=m["bucket"],
        five_tier=FiveTier(m["five_tier"]), restructure_count=int(m["restructure_count"]),
        non_accrual=bool(m["non_accrual"]), observation_floor=FiveTier(m["observation_floor"]),
        observation_end=m["observation_end"], observation_missed=bool(m["observation_missed"]),
        version=int(m["version"]),
    )


class LoanRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._loaded_version: dict[str, int] = {}

    def add(self, loan: Loan) -> None:
        if self.exists(loan.loan_id):
            raise ServicingError("loan_id", f"loan {loan.loan_id!r} already exists")
        self.connection.execute(insert(loans), [{**loan_values(loan), "version": 1}])
        self._write_installments(loan)
        self._loaded_version[loan.loan_id] = 1

    def exists(self, loan_id: str) -> bool:
        return self.connection.execute(select(loans.c.loan_id).where(loans.c.loan_id == loan_id)).first() is not None

    def get(self, loan_id: str, *, for_update: bool = False) -> Loan:
        """The loan, or ServicingError naming loan_id. for_update locks the row on PostgreSQL."""
        query = select(loans).where(loans.c.loan_id == loan_id)
        if for_update and self.connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.connection.execute(query).first()
        if row is None:
            raise ServicingError("loan_id", f"unknown loan {loan_id!r}", kind=ErrorKind.NOT_FOUND)
        inst = self.connection.execute(
            select(installments).where(installments.c.loan_id == loan_id).order_by(installments.c.seq)
        ).all()
        loan = loan_from_rows(row, list(inst))
        self._loaded_version[loan_id] = loan.version
        return loan

    def save(self, loan: Loan) -> None:
        """Write a loan loaded through this repository; refuse if someone saved it meanwhile."""
        loaded = self._loaded_version.get(loan.loan_id)
        if loaded is None:
            raise InvariantError("save() takes a loan this repository loaded or added")
        result = self.connection.execute(
            update(loans)
            .where(loans.c.loan_id == loan.loan_id, loans.c.version == loaded)
            .values(**loan_values(loan), version=loaded + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"loan {loan.loan_id} changed since it was loaded (version {loaded})")
        self.connection.execute(delete(installments).where(installments.c.loan_id == loan.loan_id))
        self._write_installments(loan)
        self._loaded_version[loan.loan_id] = loaded + 1

    def _write_installments(self, loan: Loan) -> None:
        rows = installment_values(loan)
        if rows:
            self.connection.execute(insert(installments), rows)

    def ids(self, *, status: LoanStatus | None = None, limit: int = 1_000_000) -> list[str]:
        query = select(loans.c.loan_id).order_by(loans.c.loan_id).limit(limit)
        if status is not None:
            query = query.where(loans.c.status == status.value)
        return [r[0] for r in self.connection.execute(query)]

    # -- the servicing log (what a reversal replays) ---------------------------------------------

    def log_command(self, loan_id: str, kind: str, on: date, key: str, params: dict[str, Any],
                    entry_id: str = "") -> LoanCommand:
        """Append a command to the loan's log, in the caller's transaction (with its effects)."""
        c = loan_commands.c
        last = self.connection.execute(select(func.max(c.seq)).where(c.loan_id == loan_id)).scalar()
        seq = int(last or 0) + 1
        if seq > COMMANDS_PER_LOAN_MAX:
            raise InvariantError(f"loan {loan_id}: more than {COMMANDS_PER_LOAN_MAX} commands")
        command = LoanCommand(loan_id, seq, kind, on, key, params, entry_id)
        self.connection.execute(insert(loan_commands).values(
            loan_id=loan_id, seq=seq, kind=kind, value_date=on, command_key=key, params=params, entry_id=entry_id,
            reversed_by="", recorded_at=datetime.now(UTC)))
        return command

    def commands(self, loan_id: str) -> list[LoanCommand]:
        """The loan's log in order (empty for a loan booked before the log was kept)."""
        c = loan_commands.c
        rows = self.connection.execute(select(loan_commands).where(c.loan_id == loan_id).order_by(c.seq)).all()
        return [LoanCommand(r.loan_id, int(r.seq), r.kind, r.value_date, r.command_key, dict(r.params), r.entry_id,
                            r.reversed_by) for r in rows]

    def mark_reversed(self, loan_id: str, seq: int, by_key: str) -> None:
        c = loan_commands.c
        result = self.connection.execute(update(loan_commands).where(
            c.loan_id == loan_id, c.seq == seq, c.reversed_by == "").values(reversed_by=by_key))
        if result.rowcount != 1:
            raise InvariantError(f"loan {loan_id}: command {seq} was not logged exactly once")

    def closed_through(self) -> date | None:
        """The earliest day every live loan has been closed through (None: no live loan)."""
        live = [s.value for s in (LoanStatus.ACTIVE, LoanStatus.OVERDUE)]
        value = self.connection.execute(
            select(func.min(loans.c.accrued_through)).where(loans.c.status.in_(live))
        ).scalar()
        return value if isinstance(value, date) or value is None else date.fromisoformat(str(value))
