"""Credit repair (信用修复), issue 7 §7: after N months of on-time repayment a borrower may have one
historical overdue record marked repaired, for internal scoring only.

Pure functions over the borrower's installments with the date each was paid off (from
`portfolio.installment_paid_dates`) and their loans' status: no I/O. The original records are
never changed: a grant is a separate row that points at the record, and scoring reads "overdue
records not repaired" through `unrepaired_count`.

Definitions (all dates are business dates):

- An installment is *overdue* when it was paid off more than `grace_days` after its due date, or
  is still unpaid more than `grace_days` after it. days_late = (paid_on or `on`) − due_date.
- An overdue record is *historical* once paid off; an unpaid one is a *current overdue*.
- Its type is `late_payment` up to `serious_dpd_days` late, `serious_delinquency` beyond.
- Months of on-time repayment: the distinct calendar months in which installments fell due
  after the last overdue record's due date (up to `on`), all of them paid on time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lendstack.errors import LendstackError
from lendstack.invariants import InvariantError

RECORD_TYPES = ("late_payment", "serious_delinquency")
MONTHS_ON_TIME_MAX = 60
MAX_RECORDS_MAX = 12
INSTALLMENTS_MAX = 10_000  # one borrower's history; more is a data error, not a borrower


class CreditRepairError(LendstackError):
    """Bad input to the program (a config, a borrower, a record); names the field."""


@dataclass(frozen=True)
class ProgramConfig:
    months_on_time: int = 12
    max_records: int = 1
    eligible_record_types: tuple[str, ...] = ("late_payment",)
    serious_dpd_days: int = 90
    grace_days: int = 0

    def __post_init__(self) -> None:
        _int_between("program.months_on_time", self.months_on_time, 1, MONTHS_ON_TIME_MAX)
        _int_between("program.max_records", self.max_records, 1, MAX_RECORDS_MAX)
        _int_between("program.serious_dpd_days", self.serious_dpd_days, 1, 3_650)
        _int_between("program.grace_days", self.grace_days, 0, 30)
        unknown = [t for t in self.eligible_record_types if t not in RECORD_TYPES]
        if unknown or not self.eligible_record_types:
            got = list(self.eligible_record_types)
            raise CreditRepairError("program.eligible_record_types",
                                    f"a non-empty list of {', '.join(RECORD_TYPES)}; got {got}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProgramConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise CreditRepairError(f"program.{unknown[0]}", "unknown setting")
        values = dict(data)
        if "eligible_record_types" in values:
            types = values["eligible_record_types"]
            if not isinstance(types, list | tuple) or not all(isinstance(t, str) for t in types):
                raise CreditRepairError("program.eligible_record_types", "a list of record types")
            values["eligible_record_types"] = tuple(types)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {"months_on_time": self.months_on_time, "max_records": self.max_records,
                "eligible_record_types": list(self.eligible_record_types),
                "serious_dpd_days": self.serious_dpd_days, "grace_days": self.grace_days}


def _int_between(field_name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CreditRepairError(field_name, f"an integer in [{low}, {high}]; got {value!r}")


@dataclass(frozen=True, slots=True)
class Installment:
    loan_id: str
    seq: int
    due_date: date
    paid_on: date | None  # when the loan's payments covered it (None: not yet)


@dataclass(frozen=True, slots=True)
class OverdueRecord:
    loan_id: str
    seq: int
    due_date: date
    paid_on: date | None
    days_late: int
    record_type: str

    @property
    def record_id(self) -> str:
        return record_id(self.loan_id, self.seq)

    @property
    def historical(self) -> bool:
        return self.paid_on is not None

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "loan_id": self.loan_id, "seq": self.seq,
                "due_date": self.due_date.isoformat(), "paid_on": self.paid_on.isoformat() if self.paid_on else None,
                "days_late": self.days_late, "record_type": self.record_type}


def record_id(loan_id: str, seq: int) -> str:
    return f"{loan_id}#{seq}"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    en: str
    zh: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh": self.zh}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[Reason, ...]
    record: OverdueRecord | None
    months_on_time: int
    evidence: dict[str, Any] = field(default_factory=dict)


def overdue_records(installments: Iterable[Installment], on: date, config: ProgramConfig) -> list[OverdueRecord]:
    """Every installment due before `on` that was (or is) more than `grace_days` late, oldest first."""
    out = []
    for inst in installments:
        if inst.due_date >= on:
            continue  # due date D is 1 day past due on D + 1
        paid = inst.paid_on if inst.paid_on is not None and inst.paid_on <= on else None
        days_late = ((paid or on) - inst.due_date).days
        if days_late > config.grace_days:
            kind = "serious_delinquency" if days_late > config.serious_dpd_days else "late_payment"
            out.append(OverdueRecord(inst.loan_id, inst.seq, inst.due_date, paid, days_late, kind))
    return sorted(out, key=lambda r: (r.due_date, r.loan_id, r.seq))


def months_on_time(installments: Sequence[Installment], records: Sequence[OverdueRecord], on: date,
                   grace_days: int = 0) -> int:
    """Distinct months with installments due after the last overdue record, up to `on`, all paid on time."""
    last_bad = max((r.due_date for r in records), default=date.min)
    months = set()
    for inst in installments:
        if last_bad < inst.due_date <= on:
            if inst.paid_on is None or inst.paid_on > on or (inst.paid_on - inst.due_date).days > grace_days:
                continue  # not yet paid within grace: neither good nor (yet) bad
            months.add((inst.due_date.year, inst.due_date.month))
    return len(months)


def unrepaired_count(records: Iterable[OverdueRecord], repaired_ids: Iterable[str]) -> int:
    """What internal scoring reads: overdue records (historical or current) not marked repaired."""
    repaired = set(repaired_ids)
    return sum(1 for r in records if r.record_id not in repaired)


def evaluate(
    installments: Sequence[Installment], loan_statuses: Mapping[str, str], on: date, config: ProgramConfig,
    granted_ids: Sequence[str], wanted_record: str | None = None,
) -> Eligibility:
    """Eligibility of one borrower on `on`: every reason for a refusal, or the record to repair."""
    assert len(installments) <= INSTALLMENTS_MAX, len(installments)
    records = overdue_records(installments, on, config)
    months = months_on_time(installments, records, on, config.grace_days)
    reasons: list[Reason] = []
    current = [r for r in records if not r.historical]
    if current:
        reasons.append(Reason("current_overdue", f"A repayment is overdue now ({current[0].record_id}, "
                              f"{current[0].days_late} days)", f"当前有逾期未还款项（{current[0].record_id}，"
                              f"逾期{current[0].days_late}天）"))
    written_off = sorted(loan for loan, status in loan_statuses.items() if status == "written_off")
    if written_off:
        reasons.append(Reason("written_off", f"Loan {written_off[0]} was written off", f"贷款{written_off[0]}已核销"))
    if months < config.months_on_time:
        reasons.append(Reason("not_enough_on_time_months",
                              f"{months} month(s) of on-time repayment; the program needs {config.months_on_time}",
                              f"连续按时还款{months}个月，需满{config.months_on_time}个月"))
    if len(granted_ids) >= config.max_records:
        reasons.append(Reason("max_records_granted",
                              f"The program's limit of {config.max_records} repaired record(s) is reached",
                              f"已达到信用修复上限（{config.max_records}条）"))
    record, record_reason = _pick(records, set(granted_ids), config, wanted_record)
    if record_reason is not None:
        reasons.append(record_reason)
    evidence = {"months_on_time": months, "months_required": config.months_on_time,
                "overdue_records": [r.to_dict() for r in records], "granted_records": list(granted_ids),
                "installments_checked": len(installments), "on": on.isoformat()}
    eligible = not reasons
    return Eligibility(eligible, tuple(reasons), record if eligible else None, months, evidence)


def _pick(records: Sequence[OverdueRecord], granted: set[str], config: ProgramConfig,
          wanted: str | None) -> tuple[OverdueRecord | None, Reason | None]:
    """The record to repair: the one asked for, else the oldest eligible one not yet repaired."""
    candidates = [r for r in records if r.historical and r.record_id not in granted
                  and r.record_type in config.eligible_record_types]
    if wanted is None:
        if candidates:
            return candidates[0], None
        return None, Reason("no_eligible_record", "No historical overdue record is eligible for repair",
                            "没有可修复的历史逾期记录")
    found = next((r for r in candidates if r.record_id == wanted), None)
    if found is not None:
        return found, None
    known = next((r for r in records if r.record_id == wanted), None)
    why_en, why_zh = ("is not an overdue record of this borrower", "不是该借款人的逾期记录") if known is None else \
        ("is already repaired", "已修复") if wanted in granted else \
        ("is still unpaid", "尚未还清") if not known.historical else \
        (f"is of type {known.record_type}, not eligible", f"类型为{known.record_type}，不可修复")
    return None, Reason("record_not_eligible", f"Record {wanted} {why_en}", f"记录{wanted}{why_zh}")


STATUS_TEXT = {
    "granted": ("Granted: the record is marked repaired for internal scoring; the original is kept.",
                "已批准：该记录在内部评分中标记为已修复，原始记录保留。"),
    "refused": ("Refused", "未通过"),
}


def grant_text(record: OverdueRecord) -> tuple[str, str]:
    en = (f"Installment {record.seq} of loan {record.loan_id}, due {record.due_date.isoformat()}, paid "
          f"{record.days_late} days late, is marked repaired for internal scoring")
    zh = (f"贷款{record.loan_id}第{record.seq}期（应还日{record.due_date.isoformat()}，逾期{record.days_late}天）"
          f"在内部评分中标记为已修复")
    return en, zh


# --------------------------------------------------------------------------- applications and grants


APPLICATION_STATUSES = tuple(STATUS_TEXT)  # granted | refused


@dataclass(frozen=True, slots=True)
class RepairGrant:
    """One historical overdue record marked repaired (the record itself is never changed)."""

    grant_id: str
    application_id: str
    borrower_id: str
    loan_id: str
    seq: int
    record_type: str
    due_date: date
    paid_on: date
    days_late: int
    granted_on: date
    created_at: datetime

    @property
    def record_id(self) -> str:
        return record_id(self.loan_id, self.seq)

    def to_json(self) -> dict[str, Any]:
        return {"grant_id": self.grant_id, "record_id": self.record_id, "loan_id": self.loan_id, "seq": self.seq,
                "record_type": self.record_type, "due_date": self.due_date.isoformat(),
                "paid_on": self.paid_on.isoformat(), "days_late": self.days_late,
                "granted_on": self.granted_on.isoformat()}


@dataclass(frozen=True, slots=True)
class RepairApplication:
    """A borrower's application to the program, with its outcome (and the grant, when granted)."""

    application_id: str
    borrower_id: str
    applicant_id: str  # '' = none
    loan_id: str  # '' = the application names the applicant
    applied_on: date
    status: str  # granted | refused
    reasons: list[dict[str, str]]
    evidence: dict[str, Any]
    program: dict[str, Any]
    history: list[dict[str, Any]]
    created_at: datetime
    grant: RepairGrant | None = None

    def to_json(self) -> dict[str, Any]:
        """The document the borrower and staff see, with the status in English and Chinese."""
        en, zh = STATUS_TEXT[self.status]
        return {"application_id": self.application_id, "borrower_id": self.borrower_id,
                "applicant_id": self.applicant_id, "loan_id": self.loan_id, "applied_on": self.applied_on.isoformat(),
                "status": self.status, "text": {"en": en, "zh": zh}, "reasons": list(self.reasons),
                "evidence": dict(self.evidence), "program": dict(self.program), "history": list(self.history),
                "created_at": self.created_at.isoformat(),
                "grant": self.grant.to_json() if self.grant is not None else None}


def decided_application(application_id: str, *, borrower_id: str, applicant_id: str, loan_id: str, on: date,
                        config: ProgramConfig, result: Eligibility, by: str, now: datetime) -> RepairApplication:
    """The application as recorded: applied by `by`, then granted or refused by the program; a grant
    (of a historical record only) when eligible."""
    status = "granted" if result.eligible else "refused"
    history: list[dict[str, Any]] = [{"action": "applied", "at": now.isoformat(), "by": by},
               {"action": status, "at": now.isoformat(), "by": "program",
                "record_id": result.record.record_id if result.record else None}]
    grant = None
    if result.record is not None:
        record = result.record
        if not result.eligible or record.paid_on is None:
            raise InvariantError("only a historical record of an eligible borrower is repaired")
        grant = RepairGrant(f"G-{application_id}", application_id, borrower_id, record.loan_id, record.seq,
                            record.record_type, record.due_date, record.paid_on, record.days_late, on, now)
    return RepairApplication(application_id, borrower_id, applicant_id, loan_id, on, status,
                             [r.to_dict() for r in result.reasons], result.evidence, config.to_dict(), history, now,
                             grant)


def program_text(config: ProgramConfig) -> dict[str, str]:
    """The program explained to the borrower, in English and Chinese."""
    return {"en": f"After {config.months_on_time} months of on-time repayment and with nothing overdue, up to "
                  f"{config.max_records} past overdue record(s) may be marked repaired for our internal scoring. "
                  "The original record is kept.",
            "zh": f"连续按时还款满{config.months_on_time}个月且当前无逾期的，最多可有{config.max_records}条历史逾期记录"
                  "在我行内部评分中标记为已修复，原始记录保留。"}


def record_text(record: OverdueRecord, repaired: bool) -> dict[str, str]:
    en, zh = grant_text(record) if repaired else (
        f"Installment {record.seq} of loan {record.loan_id}, due {record.due_date.isoformat()}, "
        f"{record.days_late} days late", f"贷款{record.loan_id}第{record.seq}期（应还日{record.due_date.isoformat()}）"
        f"逾期{record.days_late}天")
    return {"en": en, "zh": zh}


def unrepaired_by_borrower(records: Iterable[OverdueRecord], repaired_ids: Iterable[str],
                           borrower_of: Mapping[str, str]) -> dict[str, int]:
    """Per borrower (every borrower of `borrower_of`, loan id → borrower id), the overdue records not
    marked repaired; borrowers with none are listed with 0."""
    repaired = set(repaired_ids)
    counts = dict.fromkeys(sorted(set(borrower_of.values())), 0)
    for r in records:
        if r.record_id not in repaired:
            counts[borrower_of[r.loan_id]] += 1
    return counts
