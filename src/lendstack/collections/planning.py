"""Collections' pure rules between the book and a case: amount-due arithmetic, what the daily run does with
one overdue loan (its plan), the case state machine (open → updated → escalated → closed), promise
evaluation and the checks a collector's command must pass. Values in, values out: no I/O.

The service (`collections/service.py`) reads the book through the repository, calls these, and writes
what they return. The roll model, strategies, queue order and promise status are in `domain.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from lendstack.collections.domain import (
    CollectionsError,
    MessageValues,
    RollInputs,
    Step,
    Strategy,
    priority_minor,
    promise_status,
    roll_ppm,
    step_due,
)
from lendstack.collections.records import Case, CollectorAccount, InstallmentAmounts, LoanBalances, PromiseToPay
from lendstack.errors import ErrorKind
from lendstack.invariants import check
from lendstack.monitoring.early_warning import missed_in_last

PAID_WINDOW_DAYS = 30  # "paid recently" for the roll model: cash received in this many days before the run
CASE_ID_MAX = 200  # a case id longer than this is malformed input, not a lookup
Part = Literal["interest", "fee", "penalty"]


class CaseNotFound(CollectionsError):
    """No case has this id."""

    kind = ErrorKind.NOT_FOUND


class CollectionsConflict(CollectionsError):
    """The input is fine but the case's state forbids it now (closed, a promise pending, a full queue,
    a day end of day has not closed)."""

    kind = ErrorKind.CONFLICT


# --------------------------------------------------------------------------- amount-due arithmetic


def receivable_minor(loan: LoanBalances, part: Part) -> int:
    """Interest, fee or penalty the borrower still owes: accrued (charged) less paid, written off and
    capitalized."""
    if part == "interest":
        raised, paid = loan.interest_accrued_minor, loan.interest_paid_minor
        gone = loan.interest_written_off_minor + loan.interest_capitalized_minor
    elif part == "fee":
        raised, paid = loan.fee_charged_minor, loan.fee_paid_minor
        gone = loan.fee_written_off_minor + loan.fee_capitalized_minor
    else:
        raised, paid = loan.penalty_accrued_minor, loan.penalty_paid_minor
        gone = loan.penalty_written_off_minor + loan.penalty_capitalized_minor
    return int(raised - paid - gone)


def principal_outstanding_minor(loan: LoanBalances) -> int:
    return int(loan.principal_disbursed_minor + loan.principal_capitalized_minor - loan.principal_repaid_minor
               - loan.principal_written_off_minor)


def exposure_minor(loan: LoanBalances) -> int:
    """Everything the borrower owes: principal outstanding + interest, fees and penalty receivable."""
    return principal_outstanding_minor(loan) + sum(receivable_minor(loan, p) for p in ("interest", "fee", "penalty"))


def unpaid_minor(installment: InstallmentAmounts) -> int:
    """What is still owed of one installment's principal, interest and fee (penalty is loan-level)."""
    i = installment
    return int(i.principal_minor + i.interest_minor + i.fee_minor - i.principal_paid_minor - i.interest_paid_minor
               - i.fee_paid_minor)


def overdue_installments(installments: Sequence[InstallmentAmounts], as_of: date) -> list[InstallmentAmounts]:
    """Installments due before `as_of` and not fully paid, in schedule order."""
    return [i for i in installments if i.due_date < as_of and unpaid_minor(i) > 0]


def amount_overdue_minor(loan: LoanBalances, overdue: Iterable[InstallmentAmounts]) -> int:
    """The unpaid installments due so far plus the penalty receivable: what cures the loan today."""
    return sum(unpaid_minor(i) for i in overdue) + receivable_minor(loan, "penalty")


def paid_between(cash: Iterable[tuple[date, int]], first: date, last: date) -> int:
    """Cash received on days first..last (both included)."""
    return sum(amount for day, amount in cash if first <= day <= last)


def roll_inputs(loan: LoanBalances, installments: Sequence[InstallmentAmounts], cash: Iterable[tuple[date, int]],
                origination_pd: Decimal | None, open_alerts: int, case: Case | None, as_of: date) -> RollInputs:
    """What the roll model reads of one overdue loan, from what the run preloaded."""
    return RollInputs(
        bucket=loan.bucket, days_past_due=int(loan.days_past_due),
        missed_last_3=missed_in_last([(i.due_date, unpaid_minor(i) == 0) for i in installments], as_of),
        paid_last_30_minor=paid_between(cash, as_of - timedelta(days=PAID_WINDOW_DAYS), as_of),
        origination_pd=origination_pd, open_alerts=open_alerts,
        broken_promises=int(case.broken_promises) if case is not None else 0)


# --------------------------------------------------------------------------- one overdue loan's plan


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """What the run sets on the case of every overdue loan it works, every day."""

    as_of: date
    currency: str
    days_past_due: int
    bucket: str
    stage: str
    risk_band: str
    roll_ppm: int
    amount_overdue_minor: int
    exposure_minor: int
    priority_minor: int
    strategy: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """The columns one run changes on a case: its figures, and (None: unchanged) the next action and the
    last step taken."""

    case_id: str
    figures: CaseFigures
    next_action: str | None = None
    last_stage: str | None = None
    last_step_on: date | None = None

    def columns(self) -> dict[str, Any]:
        f = self.figures
        out: dict[str, Any] = {
            "as_of": f.as_of, "currency": f.currency, "days_past_due": f.days_past_due, "bucket": f.bucket,
            "stage": f.stage, "risk_band": f.risk_band, "roll_ppm": f.roll_ppm,
            "amount_overdue_minor": f.amount_overdue_minor, "exposure_minor": f.exposure_minor,
            "priority_minor": f.priority_minor, "strategy": f.strategy, "updated_at": f.updated_at}
        extra = {"next_action": self.next_action, "last_stage": self.last_stage, "last_step_on": self.last_step_on}
        return out | {k: v for k, v in extra.items() if v is not None}

    def changes(self, stored: Case) -> bool:
        """Does it change the stored case? A second run of the day changes nothing (not even updated_at)."""
        return any(getattr(stored, k) != v for k, v in self.columns().items() if k != "updated_at")


@dataclass(frozen=True, slots=True)
class CasePlan:
    """What the run does with one overdue loan today, computed from the preloaded values (no I/O)."""

    loan_id: str
    case: Case | None  # the open case; None: a case is opened today
    case_id: str
    roll: int
    step: Step
    figures: CaseFigures
    held: bool  # a promise is pending: no dunning
    step_due: bool
    message: MessageValues


def case_id_for(loan_id: str, opened_on: date) -> str:
    return f"C-{loan_id}-{opened_on:%Y%m%d}"


def plan_case(strategy: Strategy, as_of: date, now: datetime, loan: LoanBalances, case: Case | None,
              inputs: RollInputs, amount_overdue: int, oldest_due: date, held_case_ids: set[str]) -> CasePlan:
    """P(roll), the risk band (high once a promise was broken), the strategy's step and whether it is
    due, and the case's figures; a pending promise holds the dunning."""
    check(case is None or case.loan_id == loan.loan_id, "a loan's plan reads its own case")
    roll = roll_ppm(inputs, strategy.doc.roll_model)
    escalated = bool(case.escalated) if case is not None else False
    band = "high" if escalated else strategy.band_of(roll)
    step = strategy.step_for(inputs.days_past_due, band)
    exposure = exposure_minor(loan)
    basis = amount_overdue if strategy.doc.queue.priority_basis == "overdue" else exposure
    figures = CaseFigures(as_of=as_of, currency=loan.currency, days_past_due=inputs.days_past_due,
                          bucket=loan.bucket, stage=step.stage, risk_band=band, roll_ppm=roll,
                          amount_overdue_minor=amount_overdue, exposure_minor=exposure,
                          priority_minor=priority_minor(basis, roll), strategy=strategy.version, updated_at=now)
    # a new case has taken no step yet (last stage '', no last day) and no promise can be pending on it
    case_id = case.case_id if case is not None else case_id_for(loan.loan_id, as_of)
    held = case is not None and case.case_id in held_case_ids
    due = not held and step_due(case.last_stage if case is not None else "",
                                case.last_step_on if case is not None else None, step, as_of)
    message = MessageValues(loan.loan_id, amount_overdue, loan.currency, oldest_due, inputs.days_past_due)
    return CasePlan(loan.loan_id, case, case_id, roll, step, figures, held, due, message)


def case_update(plan: CasePlan) -> CaseUpdate:
    """The case's columns after today: held → follow up; a step taken → its stage, day and next action."""
    if plan.held:
        return CaseUpdate(plan.case_id, plan.figures, next_action="follow_up")
    if plan.step_due:
        step = plan.step
        return CaseUpdate(plan.case_id, plan.figures, next_action="" if step.action == "reminder" else step.action,
                          last_stage=step.stage, last_step_on=plan.figures.as_of)
    return CaseUpdate(plan.case_id, plan.figures)


def new_case(loan_id: str, update: CaseUpdate, now: datetime) -> Case:
    """The case a run opens for a loan newly overdue: open, unassigned, not escalated."""
    f = update.figures
    return Case(
        case_id=update.case_id, loan_id=loan_id, status="open", opened_on=f.as_of, closed_on=None, close_reason="",
        as_of=f.as_of, currency=f.currency, days_past_due=f.days_past_due, bucket=f.bucket, stage=f.stage,
        risk_band=f.risk_band, roll_ppm=f.roll_ppm, amount_overdue_minor=f.amount_overdue_minor,
        exposure_minor=f.exposure_minor, priority_minor=f.priority_minor, escalated=False, broken_promises=0,
        collector="", assigned_at=None, last_stage=update.last_stage or "", last_step_on=update.last_step_on,
        next_action=update.next_action if update.next_action is not None else "", strategy=f.strategy,
        created_at=now, updated_at=f.updated_at)


# --------------------------------------------------------------------------- closing, escalating, promises


@dataclass(frozen=True, slots=True)
class CaseClosing:
    """A case closed because its loan is no longer overdue; its pending promises are cancelled."""

    case_id: str
    close_reason: str  # current | closed | written_off
    as_of: date
    updated_at: datetime


def close_reason(loan_status: str) -> str:
    """Why the case of a loan no longer overdue closes: repaid, written off, or current again."""
    return {"closed": "closed", "written_off": "written_off"}.get(loan_status, "current")


@dataclass(frozen=True, slots=True)
class CaseEscalation:
    """A broken promise escalates the case: high risk from then on, next action escalate."""

    case_id: str
    broken_promises: int
    updated_at: datetime


def escalation(case: Case, now: datetime) -> CaseEscalation:
    return CaseEscalation(case.case_id, int(case.broken_promises) + 1, now)


@dataclass(frozen=True, slots=True)
class PromiseEvaluation:
    promise_id: str
    status: str  # pending | kept | broken
    paid_minor: int
    evaluated_on: date


def evaluate_promise(promise: PromiseToPay, cash: Iterable[tuple[date, int]], grace_days: int,
                     as_of: date) -> PromiseEvaluation:
    """Kept once the cash since the promise (up to its follow-up day) covers it; broken after the promised
    date plus grace; pending otherwise."""
    paid = paid_between(cash, promise.made_on, min(as_of, promise.follow_up_on))
    status = promise_status(int(promise.amount_minor), paid, promise.promised_for, grace_days, as_of)
    return PromiseEvaluation(promise.promise_id, status, paid, as_of)


BROKEN_PROMISE_STEP_ID = "promise_broken"


def broken_promise_message(case: Case, promise: PromiseToPay) -> tuple[Step, MessageValues]:
    """The escalation message a broken promise sends (by SMS, on the promise_broken template)."""
    step = Step(BROKEN_PROMISE_STEP_ID, case.stage, "high", "escalate", ("sms",), "promise_broken", 1)
    values = MessageValues(promise.loan_id, int(case.amount_overdue_minor), case.currency, promise.promised_for,
                           int(case.days_past_due))
    return step, values


# --------------------------------------------------------------------------- checks of a collector's command


def check_open(case: Case | None, case_id: str) -> Case:
    """The case a command acts on: it exists and is open."""
    if case is None:
        raise CaseNotFound("case_id", f"unknown case {case_id!r}")
    if case.status != "open":
        raise CollectionsConflict("case_id", f"case {case_id!r} is closed ({case.close_reason})")
    return case


def check_as_of(closed_through: date | None, as_of: date) -> None:
    """DPD and buckets are what end of day stored; they describe the day it closed, not another."""
    if closed_through is not None and as_of != closed_through:
        raise CollectionsConflict("as_of", f"end of day has closed the book through {closed_through}; collections "
                                           f"run on that day (run `lendstack eod --date {as_of}` first to go "
                                           "further)")


def check_when(at: datetime | None, now: datetime) -> datetime:
    """When a contact happened: now if not given; otherwise timezone-aware and not in the future."""
    if at is None:
        return now
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise CollectionsError("at", "a timezone-aware date and time")
    if at > now:
        raise CollectionsError("at", f"{at.isoformat()} is in the future")
    return at.astimezone(UTC)


def check_promise_dates(promised_for: date, on: date, max_days_ahead: int) -> None:
    for name, value in (("promised_for", promised_for), ("on", on)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CollectionsError(name, f"a date, got {value!r}")
    if promised_for < on:
        raise CollectionsError("promised_for", f"{promised_for} is in the past (the promise is made on {on})")
    if (promised_for - on).days > max_days_ahead:
        raise CollectionsError("promised_for", f"at most {max_days_ahead} days after {on}, got {promised_for}")


def check_promise_fits(case: Case, pending: PromiseToPay | None, owed_minor: int, amount_minor: int,
                       on: date) -> None:
    """A promise is made on or after the case opened, one pending at a time, for no more than is owed."""
    if on < case.opened_on:
        raise CollectionsError("on", f"{on} is before the case was opened ({case.opened_on})")
    if pending is not None:
        raise CollectionsConflict("case_id", f"promise {pending.promise_id} (due {pending.promised_for}) is still "
                                             "pending; it is kept or broken first")
    if amount_minor > owed_minor:
        raise CollectionsError("amount_minor", f"{amount_minor} is more than the loan owes ({owed_minor})")


def check_capacity(capacity: object) -> int:
    """Open cases per collector, when given (otherwise the strategy's): a whole number >= 1."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise CollectionsError("capacity", f"a whole number >= 1, got {capacity!r}")
    return capacity


def check_room(collector: str, load: int, capacity: int) -> None:
    if load >= capacity:
        raise CollectionsConflict("collector", f"{collector} already has {load} open cases (capacity {capacity})")


def check_collectors(names: Sequence[str], fields: Sequence[str], accounts: Mapping[str, CollectorAccount],
                     role: str) -> None:
    """A case goes only to someone who can log in and work it: an enabled staff user whose role is
    collections agent (the console offers only those; the CLI and the service hold to it too)."""
    check(len(names) == len(fields), "one field name per collector")
    for name, field in zip(names, fields, strict=True):
        user = accounts.get(name)
        if user is None or user.role != role or not user.enabled:
            raise CollectionsError(field, f"{name!r} is not an enabled collections agent "
                                          f"(a staff user with role {role})")
