"""The daily collections run as it was before it went set-based: one loan at a time, one statement per
row (kept verbatim as the reference the batch run is compared against in test_collections_batch.py).
Only `run` and its helpers; everything else comes from the service module."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from lendstack.collections.domain import (
    Message,
    MessageValues,
    RollInputs,
    Step,
    Strategy,
    load_strategy,
    message_id,
    priority_minor,
    promise_status,
    roll_ppm,
    step_due,
)
from lendstack.collections.planning import PAID_WINDOW_DAYS, check_as_of, paid_between
from lendstack.collections.repository import CollectionsRepository
from lendstack.collections.service import (
    CASE_CLOSED,
    CASE_OPENED,
    PROMISE_BROKEN,
    PROMISE_KEPT,
    SYSTEM,
    Channel,
    ChannelFactory,
    outbox_channels,
)
from lendstack.events import DomainEvent
from lendstack.monitoring.early_warning import missed_in_last
from lendstack.store import UnitOfWork
from lendstack.store.tables import installments, loans
from lendstack.store.tables_collections import (
    collection_cases,
    collection_history,
    collection_messages,
    collection_promises,
)

# The reads and the arithmetic the per-loan run shared with the service before the split, on rows.


def _check_as_of(uow: UnitOfWork, as_of: date) -> None:
    check_as_of(uow.loans.closed_through(), as_of)


def _history(conn: Connection, case_id: str, on: date, kind: str, detail: dict[str, Any], by: str,
             at: datetime) -> None:
    conn.execute(insert(collection_history).values(case_id=case_id, on=on, kind=kind, by=by, detail=detail, at=at))


def _receivable(row: Any, part: str) -> int:
    return int(getattr(row, f"{part}_accrued_minor" if part in ("interest", "penalty") else f"{part}_charged_minor")
               - getattr(row, f"{part}_paid_minor") - getattr(row, f"{part}_written_off_minor")
               - getattr(row, f"{part}_capitalized_minor"))


def exposure_of(row: Any) -> int:
    principal = int(row.principal_disbursed_minor + row.principal_capitalized_minor - row.principal_repaid_minor
                    - row.principal_written_off_minor)
    return principal + sum(_receivable(row, part) for part in ("interest", "fee", "penalty"))


def _unpaid(i: Any) -> int:
    return int(i.principal_minor + i.interest_minor + i.fee_minor - i.principal_paid_minor - i.interest_paid_minor
               - i.fee_paid_minor)


def _installments(conn: Connection, loan_ids: Sequence[str]) -> Mapping[str, Sequence[Any]]:
    return CollectionsRepository(conn).installments(loan_ids)


def cash_received(conn: Connection, loan_ids: Sequence[str], since: date) -> Mapping[str, list[tuple[date, int]]]:
    return CollectionsRepository(conn).cash_received(loan_ids, since)


def _origination_pd(conn: Connection, loan_ids: Sequence[str]) -> Mapping[str, Decimal]:
    return CollectionsRepository(conn).origination_pd(loan_ids)


def _open_alerts(conn: Connection, loan_ids: Sequence[str]) -> Mapping[str, int]:
    return CollectionsRepository(conn).open_alert_counts(loan_ids)


_paid_between = paid_between


class _Run:
    """The state of one run: its unit of work, strategy, date, channels and counters."""

    def __init__(self, uow: UnitOfWork, strategy: Strategy, as_of: date, channels: Mapping[str, Channel]) -> None:
        self.uow, self.strategy, self.as_of, self.channels = uow, strategy, as_of, channels
        self.conn = uow.connection
        self.now = datetime.now(UTC)
        self.counts: Counter[str] = Counter()

    def history(self, case_id: str, kind: str, detail: dict[str, Any], by: str = SYSTEM) -> None:
        _history(self.conn, case_id, self.as_of, kind, detail, by, self.now)

    def send(self, step: Step, step_id: str, case_id: str, values: MessageValues, channels: Sequence[str]) -> int:
        """Send a step's message on each channel unless it was sent already (same loan, step, day)."""
        body = self.strategy.render(step.template, values)
        ids = {c: message_id(values.loan_id, step_id, self.as_of, c) for c in channels}
        done = set(self.conn.execute(select(collection_messages.c.message_id)
                                     .where(collection_messages.c.message_id.in_(list(ids.values())))).scalars())
        sent = 0
        for channel, mid in ids.items():
            if mid in done:
                continue
            message = Message(mid, values.loan_id, case_id, self.as_of, step_id, step.action, channel,
                              self.strategy.doc.default_language, step.template, body)
            receipt = self.channels[channel].send(message)
            self.conn.execute(insert(collection_messages).values(
                message_id=mid, loan_id=values.loan_id, case_id=case_id, as_of=self.as_of, step_id=step_id,
                action=step.action, channel=channel, language=message.language, template=step.template,
                body=dict(body), sent_at=self.now,
                receipt={"channel": receipt.channel, "reference": receipt.reference, "status": receipt.status,
                         "at": receipt.at.isoformat()}))
            sent += 1
        self.counts["messages_sent"] += sent
        return sent


def run(engine: Engine, as_of: date, *, strategy: Strategy | None = None,
        channels: ChannelFactory | None = None) -> dict[str, Any]:
    """The daily collections run (after end of day for `as_of`). Idempotent per day."""
    strat = strategy or load_strategy()
    with UnitOfWork(engine) as uow:
        _check_as_of(uow, as_of)
        state = _Run(uow, strat, as_of, (channels or outbox_channels)(uow))
        overdue = {r.loan_id: r for r in uow.connection.execute(
            select(loans).where(loans.c.status == "overdue", loans.c.days_past_due > 0).order_by(loans.c.loan_id))}
        open_cases = {r.loan_id: r for r in uow.connection.execute(
            select(collection_cases).where(collection_cases.c.status == "open"))}
        _evaluate_promises(state, open_cases)
        _close_cured(state, {k: v for k, v in open_cases.items() if k not in overdue})
        _work_overdue(state, overdue)
        _send_reminders(state)
    counts = state.counts
    return {"as_of": as_of.isoformat(), "strategy": strat.version, "overdue_loans": len(overdue),
            **{k: counts[k] for k in ("cases_opened", "cases_updated", "cases_closed", "steps_taken", "held",
                                      "messages_sent", "reminders_sent", "promises_kept", "promises_broken")}}


def _evaluate_promises(state: _Run, open_cases: Mapping[str, Any]) -> None:
    """Pending promises of open cases: kept once the cash since the promise covers it, broken after the
    promised date plus grace. A broken promise escalates the case (high risk from then on)."""
    p = collection_promises
    pending = state.conn.execute(select(p).where(p.c.status == "pending", p.c.case_id.in_(
        [c.case_id for c in open_cases.values()]))).all() if open_cases else []
    if not pending:
        return
    cash = cash_received(state.conn, sorted({r.loan_id for r in pending}), min(r.made_on for r in pending))
    grace = state.strategy.doc.promise.grace_days
    for promise in pending:
        paid = _paid_between(cash.get(promise.loan_id, ()), promise.made_on, min(state.as_of, promise.follow_up_on))
        status = promise_status(int(promise.amount_minor), paid, promise.promised_for, grace, state.as_of)
        state.conn.execute(update(p).where(p.c.promise_id == promise.promise_id).values(
            status=status, paid_minor=paid, evaluated_on=state.as_of))
        if status == "kept":
            _promise_kept(state, promise, paid)
        elif status == "broken":
            _promise_broken(state, promise, paid, open_cases[promise.loan_id])


def _promise_kept(state: _Run, promise: Any, paid: int) -> None:
    state.counts["promises_kept"] += 1
    state.history(promise.case_id, "promise_kept", {"promise_id": promise.promise_id, "paid_minor": paid})
    state.uow.outbox.add(DomainEvent.new(PROMISE_KEPT, "loan", promise.loan_id, {
        "case_id": promise.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))


def _promise_broken(state: _Run, promise: Any, paid: int, case: Any) -> None:
    state.counts["promises_broken"] += 1
    c = collection_cases.c
    state.conn.execute(update(collection_cases).where(c.case_id == case.case_id).values(
        escalated=True, broken_promises=case.broken_promises + 1, next_action="escalate", updated_at=state.now))
    state.history(case.case_id, "promise_broken", {"promise_id": promise.promise_id, "paid_minor": paid,
                                                   "amount_minor": int(promise.amount_minor)})
    state.history(case.case_id, "escalated", {"reason": "promise_broken"})
    state.uow.outbox.add(DomainEvent.new(PROMISE_BROKEN, "loan", promise.loan_id, {
        "case_id": case.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))
    step = Step("promise_broken", case.stage, "high", "escalate", ("sms",), "promise_broken", 1)
    values = MessageValues(promise.loan_id, int(case.amount_overdue_minor), case.currency,
                           promise.promised_for, int(case.days_past_due))
    state.send(step, "promise_broken", case.case_id, values, step.channels)


def _close_cured(state: _Run, cases: Mapping[str, Any]) -> None:
    """Close the cases of loans no longer overdue; their still-pending promises are cancelled."""
    if not cases:
        return
    status = {r.loan_id: r.status for r in state.conn.execute(
        select(loans.c.loan_id, loans.c.status).where(loans.c.loan_id.in_(list(cases))))}
    for loan_id, case in sorted(cases.items()):
        reason = {"closed": "closed", "written_off": "written_off"}.get(status[loan_id], "current")
        c = collection_cases.c
        state.conn.execute(update(collection_cases).where(c.case_id == case.case_id).values(
            status="closed", closed_on=state.as_of, close_reason=reason, next_action="", as_of=state.as_of,
            updated_at=state.now))
        p = collection_promises.c
        state.conn.execute(update(collection_promises).where(p.case_id == case.case_id, p.status == "pending")
                           .values(status="cancelled", evaluated_on=state.as_of))
        state.history(case.case_id, "closed", {"reason": reason})
        state.uow.outbox.add(DomainEvent.new(CASE_CLOSED, "loan", loan_id, {
            "case_id": case.case_id, "reason": reason, "as_of": state.as_of.isoformat()}, occurred_at=state.now))
        state.counts["cases_closed"] += 1


def _work_overdue(state: _Run, overdue: Mapping[str, Any]) -> None:
    if not overdue:
        return
    ids = sorted(overdue)
    conn, as_of = state.conn, state.as_of
    insts = _installments(conn, ids)
    cash = cash_received(conn, ids, as_of - timedelta(days=PAID_WINDOW_DAYS))
    pds, alerts = _origination_pd(conn, ids), _open_alerts(conn, ids)
    # read after the promises were evaluated: a broken promise has just escalated its case
    cases = {r.loan_id: r for r in conn.execute(select(collection_cases).where(collection_cases.c.status == "open"))}
    holding = set(conn.execute(select(collection_promises.c.case_id).where(
        collection_promises.c.status == "pending")).scalars())
    for loan_id in ids:
        loan = overdue[loan_id]
        due = [i for i in insts.get(loan_id, []) if i.due_date < as_of and _unpaid(i) > 0]
        amount_overdue = sum(_unpaid(i) for i in due) + _receivable(loan, "penalty")
        inputs = RollInputs(
            bucket=loan.bucket, days_past_due=int(loan.days_past_due),
            missed_last_3=missed_in_last([(i.due_date, _unpaid(i) == 0) for i in insts.get(loan_id, [])], as_of),
            paid_last_30_minor=_paid_between(cash.get(loan_id, ()), as_of - timedelta(days=PAID_WINDOW_DAYS), as_of),
            origination_pd=pds.get(loan_id), open_alerts=alerts.get(loan_id, 0),
            broken_promises=int(cases[loan_id].broken_promises) if loan_id in cases else 0)
        oldest_due = due[0].due_date if due else as_of
        _work_case(state, loan, cases.get(loan_id), inputs, amount_overdue, oldest_due, holding)


def _work_case(state: _Run, loan: Any, case: Any, inputs: RollInputs, amount_overdue: int, oldest_due: date,
               holding: set[str]) -> None:
    strat, as_of = state.strategy, state.as_of
    roll = roll_ppm(inputs, strat.doc.roll_model)
    escalated = bool(case.escalated) if case is not None else False
    band = "high" if escalated else strat.band_of(roll)
    step = strat.step_for(inputs.days_past_due, band)
    exposure = exposure_of(loan)
    basis = amount_overdue if strat.doc.queue.priority_basis == "overdue" else exposure
    values = {"as_of": as_of, "currency": loan.currency, "days_past_due": inputs.days_past_due,
              "bucket": loan.bucket, "stage": step.stage, "risk_band": band, "roll_ppm": roll,
              "amount_overdue_minor": amount_overdue, "exposure_minor": exposure,
              "priority_minor": priority_minor(basis, roll), "strategy": strat.version, "updated_at": state.now}
    if case is None:
        case = _open_case(state, loan.loan_id, values)
    else:
        state.counts["cases_updated"] += 1
    c = collection_cases.c
    if case.case_id in holding:  # a promise is pending: no dunning until it is kept or broken
        state.counts["held"] += 1
        values["next_action"] = "follow_up"
    elif step_due(case.last_stage, case.last_step_on, step, as_of):
        state.send(step, step.step_id, case.case_id,
                   MessageValues(loan.loan_id, amount_overdue, loan.currency, oldest_due, inputs.days_past_due),
                   step.channels)
        state.history(case.case_id, "step", {"step_id": step.step_id, "action": step.action,
                                             "channels": list(step.channels), "roll_ppm": roll})
        state.counts["steps_taken"] += 1
        values |= {"last_stage": step.stage, "last_step_on": as_of,
                   "next_action": "" if step.action == "reminder" else step.action}
    state.conn.execute(update(collection_cases).where(c.case_id == case.case_id).values(**values))


def _open_case(state: _Run, loan_id: str, values: dict[str, Any]) -> Any:
    case_id = f"C-{loan_id}-{state.as_of:%Y%m%d}"
    row = {**values, "case_id": case_id, "loan_id": loan_id, "status": "open", "opened_on": state.as_of,
           "closed_on": None, "close_reason": "", "escalated": False, "broken_promises": 0, "collector": "",
           "assigned_at": None, "last_stage": "", "last_step_on": None, "next_action": "", "created_at": state.now}
    state.conn.execute(insert(collection_cases).values(**row))
    state.history(case_id, "opened", {"days_past_due": values["days_past_due"], "bucket": values["bucket"],
                                      "amount_overdue_minor": values["amount_overdue_minor"]})
    state.uow.outbox.add(DomainEvent.new(CASE_OPENED, "loan", loan_id, {
        "case_id": case_id, "as_of": state.as_of.isoformat(), "days_past_due": values["days_past_due"],
        "amount_overdue_minor": values["amount_overdue_minor"], "currency": values["currency"]},
        occurred_at=state.now))
    state.counts["cases_opened"] += 1
    return state.conn.execute(select(collection_cases).where(collection_cases.c.case_id == case_id)).one()


def _send_reminders(state: _Run) -> None:
    """Loans in good standing whose next installment falls due in one of the strategy's reminder days."""
    days = state.strategy.reminder_days
    if not days:
        return
    targets = [state.as_of + timedelta(days=d) for d in days]
    i = installments.c
    query = (select(installments, loans.c.currency).join(loans, loans.c.loan_id == i.loan_id)
             .where(loans.c.status == "active", i.due_date.in_(targets))
             .order_by(i.loan_id, i.seq))
    for inst in state.conn.execute(query):
        amount = _unpaid(inst)
        step = state.strategy.reminder_for((inst.due_date - state.as_of).days)
        if amount <= 0 or step is None:
            continue
        values = MessageValues(inst.loan_id, amount, inst.currency, inst.due_date, 0)
        state.counts["reminders_sent"] += state.send(step, step.step_id, "", values, step.channels)
