"""The shell of collections (催收): the daily run, the contact log, promises to pay and collector queues.

`run(engine, as_of)` is one unit of work over the book as end of day left it on `as_of`: it evaluates
pending promises against the cash the loan actually received (the ledger), closes the cases of loans
that are current, repaid or written off, opens or updates a case per overdue loan with its P(roll),
risk band and priority, takes the strategy's step and sends its messages, and sends the reminders of
loans falling due. Messages go through `Channel`s; the default `OutboxChannel` writes each one as a
`collections.message_sent` outbox event in the same transaction. A message's id is (loan, step, day,
channel), so running a day twice sends nothing twice.

Every write command validates first and writes nothing on bad input (a CollectionsError names the field).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from lendstack.collections.domain import (
    CONTACT_OUTCOMES,
    LANGUAGES,
    PPM,
    CollectionsError,
    Message,
    MessageValues,
    QueueItem,
    Receipt,
    RollInputs,
    Step,
    Strategy,
    check_amount,
    check_choice,
    check_text,
    load_strategy,
    message_id,
    plan_assignments,
    priority_minor,
    promise_status,
    queue_order,
    roll_ppm,
    step_due,
)
from lendstack.events import DomainEvent
from lendstack.ledger import AccountCode, EntryKind
from lendstack.monitoring.early_warning import missed_in_last
from lendstack.services.naming import applications_of, loan_id_column
from lendstack.services.staff import COLLECTIONS
from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store import Outbox, UnitOfWork
from lendstack.store.tables import installments, journal_entries, loans, postings
from lendstack.store.tables_collections import (
    collection_cases,
    collection_contacts,
    collection_history,
    collection_messages,
    collection_promises,
)
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_monitoring import ew_alerts
from lendstack.store.tables_origination import applicants, applications
from lendstack.store.tables_staff import staff_users

CASE_OPENED = "collections.case_opened"
CASE_CLOSED = "collections.case_closed"
MESSAGE_SENT = "collections.message_sent"
PROMISE_MADE = "collections.promise_made"
PROMISE_KEPT = "collections.promise_kept"
PROMISE_BROKEN = "collections.promise_broken"
SYSTEM = "system"
IN_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
LIST_MAX = 1000
PAID_WINDOW_DAYS = 30
NAME_MAX, NOTE_MAX = 64, 2000
COLLECTORS_MAX = 200  # one auto-assignment fills at most this many queues
COLLECTOR_ROLE = COLLECTIONS  # the staff role that works cases
CASH = AccountCode.SETTLEMENT_CASH.value
CASH_KINDS = (EntryKind.REPAY.value, EntryKind.PREPAY.value)


class Channel(Protocol):
    """Where a message goes: SMS, e-mail or app push. Adapters to real gateways implement this."""

    def send(self, message: Message) -> Receipt: ...


class OutboxChannel:
    """The default adapter: the message becomes a `collections.message_sent` outbox event in the run's
    transaction; a relay (webhooks dispatch, a gateway worker) delivers it after the commit."""

    def __init__(self, uow: UnitOfWork, channel: str) -> None:
        self.uow, self.channel = uow, channel

    def send(self, message: Message) -> Receipt:
        assert message.channel == self.channel
        now = datetime.now(UTC)
        event = DomainEvent(f"{message.message_id}", MESSAGE_SENT, "loan", message.loan_id, now, {
            "message_id": message.message_id, "case_id": message.case_id, "loan_id": message.loan_id,
            "as_of": message.as_of.isoformat(), "step_id": message.step_id, "action": message.action,
            "channel": message.channel, "language": message.language, "template": message.template,
            "body": dict(message.body),
        })
        self.uow.outbox.add(event)
        return Receipt(self.channel, event.event_id, "queued", now)


ChannelFactory = Callable[[UnitOfWork], Mapping[str, Channel]]


def outbox_channels(uow: UnitOfWork) -> dict[str, Channel]:
    return {name: OutboxChannel(uow, name) for name in ("sms", "email", "push")}


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield list(ids[start:start + IN_CHUNK])


# --------------------------------------------------------------------------- reading the book


def _receivable(row: Any, part: str) -> int:
    return int(getattr(row, f"{part}_accrued_minor" if part in ("interest", "penalty") else f"{part}_charged_minor")
               - getattr(row, f"{part}_paid_minor") - getattr(row, f"{part}_written_off_minor")
               - getattr(row, f"{part}_capitalized_minor"))


def exposure_of(row: Any) -> int:
    """Everything the borrower owes: principal outstanding + interest, fees and penalty receivable."""
    principal = int(row.principal_disbursed_minor + row.principal_capitalized_minor - row.principal_repaid_minor
                    - row.principal_written_off_minor)
    return principal + sum(_receivable(row, part) for part in ("interest", "fee", "penalty"))


def _unpaid(i: Any) -> int:
    return int(i.principal_minor + i.interest_minor + i.fee_minor - i.principal_paid_minor - i.interest_paid_minor
               - i.fee_paid_minor)


def _installments(conn: Connection, loan_ids: Sequence[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(loan_ids):
        for r in conn.execute(select(installments).where(installments.c.loan_id.in_(chunk))
                              .order_by(installments.c.loan_id, installments.c.seq)):
            out[r.loan_id].append(r)
    return out


def cash_received(conn: Connection, loan_ids: Sequence[str], since: date) -> dict[str, list[tuple[date, int]]]:
    """Cash each loan received (repayments and prepayments, the debit to settlement cash) from `since`."""
    out: dict[str, list[tuple[date, int]]] = defaultdict(list)
    e, p = journal_entries, postings
    for chunk in _chunks(loan_ids):
        query = (select(e.c.loan_id, e.c.effective_date, func.sum(p.c.amount_minor).label("cash"))
                 .join(p, p.c.entry_id == e.c.entry_id)
                 .where(e.c.loan_id.in_(chunk), e.c.kind.in_(CASH_KINDS), e.c.effective_date >= since,
                        p.c.account_code == CASH, p.c.amount_minor > 0)
                 .group_by(e.c.loan_id, e.c.effective_date))
        for r in conn.execute(query):
            out[r.loan_id].append((r.effective_date, int(r.cash)))
    return out


def _paid_between(cash: Iterable[tuple[date, int]], first: date, last: date) -> int:
    return sum(amount for day, amount in cash if first <= day <= last)


def _origination_pd(conn: Connection, loan_ids: Sequence[str]) -> dict[str, Decimal]:
    """The PD of the acting decision of loans booked from an application (services.naming)."""
    by_app = {app: loan_id for loan_id, app in applications_of(conn, loan_ids).items()}
    out: dict[str, Decimal] = {}
    for chunk in _chunks(list(by_app)):
        query = select(decisions.c.application_id, decisions.c.pd).where(
            decisions.c.application_id.in_(chunk), decisions.c.acting.is_(True))
        for r in conn.execute(query):
            try:
                out[by_app[r.application_id]] = Decimal(r.pd)
            except InvalidOperation:
                continue  # a decision without a numeric PD (e.g. a knockout) says nothing about risk
    return out


def _open_alerts(conn: Connection, loan_ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(loan_ids):
        query = (select(ew_alerts.c.loan_id, func.count().label("n"))
                 .where(ew_alerts.c.loan_id.in_(chunk), ew_alerts.c.status != "closed",
                        ew_alerts.c.severity.in_(("high", "critical")))
                 .group_by(ew_alerts.c.loan_id))
        out.update({r.loan_id: int(r.n) for r in conn.execute(query)})
    return out


def _check_as_of(uow: UnitOfWork, as_of: date) -> None:
    """DPD and buckets are what end of day stored; they describe the day it closed, not another."""
    closed = uow.loans.closed_through()
    if closed is not None and as_of != closed:
        raise CollectionsError("as_of", f"end of day has closed the book through {closed}; collections run on "
                                        f"that day (run `lendstack eod --date {as_of}` first to go further)")


# --------------------------------------------------------------------------- the daily run


class _RunOutbox(Outbox):
    """The run's outbox: every event (the run's own and the OutboxChannel's) is kept in the order it
    was added and written with one insert per chunk, so the outbox reads as a per-loan run's would."""

    def __init__(self, target: Outbox) -> None:
        super().__init__(target.connection)
        self.target = target
        self.events: list[DomainEvent] = []

    def add_many(self, events: Iterable[DomainEvent]) -> None:
        self.events.extend(events)

    def flush(self) -> None:
        self.target.add_many(self.events)
        self.events = []


def borrower_languages(conn: Connection) -> dict[str, str]:
    """Live loans whose borrower stated a language (applicants.language), loan id → "en" | "zh-CN".
    Loans not listed get the strategy's default_language. One query per run; only stated languages
    are held, so the map is at most the live book."""
    a, app = applicants.c, applications.c
    query = (select(loans.c.loan_id, a.language)
             .join(applications, loans.c.loan_id == loan_id_column(applications))
             .join(applicants, a.applicant_id == app.applicant_id)
             .where(a.language != "", loans.c.status.in_([s.value for s in LIVE_STATUSES])))
    found = {str(loan_id): str(language) for loan_id, language in conn.execute(query)}
    assert set(found.values()) <= set(LANGUAGES), "applicants.language holds only en, zh-CN or ''"
    return found


class _Run:
    """The state of one run: its unit of work, strategy, date, channels and counters, and the rows it
    has not written yet (history, messages, events): `flush` writes each table with one statement."""

    def __init__(self, uow: UnitOfWork, strategy: Strategy, as_of: date, channels: Mapping[str, Channel],
                 outbox: _RunOutbox) -> None:
        self.uow, self.strategy, self.as_of, self.channels = uow, strategy, as_of, channels
        self.conn = uow.connection
        self.outbox = outbox
        self.now = datetime.now(UTC)
        self.counts: Counter[str] = Counter()
        self.history_rows: list[dict[str, Any]] = []
        self.message_rows: list[dict[str, Any]] = []
        self.sent: set[str] = set()  # message ids known to be stored (or about to be) ...
        self.checked: set[str] = set()  # ... out of the ids already looked up
        self.languages = borrower_languages(self.conn)

    def history(self, case_id: str, kind: str, detail: dict[str, Any], by: str = SYSTEM) -> None:
        self.history_rows.append({"case_id": case_id, "on": self.as_of, "kind": kind, "by": by, "detail": detail,
                                  "at": self.now})

    def message_ids(self, loan_id: str, step_id: str, channels: Sequence[str]) -> list[str]:
        return [message_id(loan_id, step_id, self.as_of, c) for c in channels]

    def look_up_sent(self, ids: Iterable[str]) -> None:
        """Which of these message ids are stored already: one query per IN chunk, not one per loan."""
        todo = sorted(set(ids) - self.checked)
        m = collection_messages.c
        for chunk in _chunks(todo):
            self.sent.update(self.conn.execute(select(m.message_id).where(m.message_id.in_(chunk))).scalars())
        self.checked.update(todo)

    def send(self, step: Step, step_id: str, case_id: str, values: MessageValues, channels: Sequence[str]) -> int:
        """Send a step's message on each channel unless it was sent already (same loan, step, day)."""
        ids = dict(zip(channels, self.message_ids(values.loan_id, step_id, channels), strict=True))
        self.look_up_sent(ids.values())  # a no-op when the chunk looked them up beforehand
        todo = [(channel, mid) for channel, mid in ids.items() if mid not in self.sent]
        if not todo:
            return 0
        body = self.strategy.render(step.template, values)
        for channel, mid in todo:
            language = self.languages.get(values.loan_id, self.strategy.doc.default_language)
            message = Message(mid, values.loan_id, case_id, self.as_of, step_id, step.action, channel,
                              language, step.template, body)
            receipt = self.channels[channel].send(message)
            self.sent.add(mid)
            self.message_rows.append({
                "message_id": mid, "loan_id": values.loan_id, "case_id": case_id, "as_of": self.as_of,
                "step_id": step_id, "action": step.action, "channel": channel, "language": message.language,
                "template": step.template, "body": dict(body), "sent_at": self.now,
                "receipt": {"channel": receipt.channel, "reference": receipt.reference, "status": receipt.status,
                            "at": receipt.at.isoformat()}})
        self.counts["messages_sent"] += len(todo)
        return len(todo)

    def flush(self) -> None:
        """Write what the chunk produced: one executemany per table (the cases are written by the caller
        first, so a history row or message never precedes its case)."""
        if self.message_rows:
            self.conn.execute(insert(collection_messages), self.message_rows)
        if self.history_rows:
            self.conn.execute(insert(collection_history), self.history_rows)
        self.outbox.flush()
        self.message_rows, self.history_rows = [], []


def run(engine: Engine, as_of: date, *, strategy: Strategy | None = None,
        channels: ChannelFactory | None = None) -> dict[str, Any]:
    """The daily collections run (after end of day for `as_of`). Idempotent per day.

    Set-based: the loans are worked in chunks of IN_CHUNK, each chunk read with one query per table
    and written with one statement per table; the results are those of working the loans one by one
    in loan-id order (tests/services/test_collections_batch.py compares the two on random books)."""
    strat = strategy or load_strategy()
    with UnitOfWork(engine) as uow:
        _check_as_of(uow, as_of)
        outbox = _RunOutbox(uow.outbox)
        uow.outbox = outbox  # the channels built below write to it through the unit of work
        try:
            state = _Run(uow, strat, as_of, (channels or outbox_channels)(uow), outbox)
            overdue = {r.loan_id: r for r in uow.connection.execute(
                select(loans).where(loans.c.status == "overdue", loans.c.days_past_due > 0)
                .order_by(loans.c.loan_id))}
            open_cases = {r.loan_id: r for r in uow.connection.execute(
                select(collection_cases).where(collection_cases.c.status == "open"))}
            _evaluate_promises(state, open_cases)
            _close_cured(state, {k: v for k, v in open_cases.items() if k not in overdue})
            _work_overdue(state, overdue)
            _send_reminders(state)
            assert not outbox.events and not state.history_rows and not state.message_rows, "all flushed"
        finally:
            uow.outbox = outbox.target
    counts = state.counts
    return {"as_of": as_of.isoformat(), "strategy": strat.version, "overdue_loans": len(overdue),
            **{k: counts[k] for k in ("cases_opened", "cases_updated", "cases_closed", "steps_taken", "held",
                                      "messages_sent", "reminders_sent", "promises_kept", "promises_broken")}}


def _update_many(conn: Connection, table: Any, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE table SET <the rows' other keys> WHERE key = row[key], one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append({(f"b_{k}" if k == key else k): v for k, v in row.items()})
    for columns, params in groups.items():
        statement = update(table).where(table.c[key] == bindparam(f"b_{key}"))
        statement = statement.values({c: bindparam(c) for c in columns if c != key})
        conn.execute(statement, params)


def _evaluate_promises(state: _Run, open_cases: Mapping[str, Any]) -> None:
    """Pending promises of open cases: kept once the cash since the promise covers it, broken after the
    promised date plus grace. A broken promise escalates the case (high risk from then on)."""
    p = collection_promises
    by_case = {c.case_id: c for c in open_cases.values()}
    pending: list[Any] = []
    for chunk in _chunks(sorted(by_case)):
        pending += state.conn.execute(select(p).where(p.c.status == "pending", p.c.case_id.in_(chunk))
                                      .order_by(p.c.loan_id, p.c.promise_id)).all()
    pending.sort(key=lambda r: (r.loan_id, r.promise_id))
    for start in range(0, len(pending), IN_CHUNK):
        _evaluate_chunk(state, pending[start:start + IN_CHUNK], open_cases)


def _evaluate_chunk(state: _Run, pending: Sequence[Any], open_cases: Mapping[str, Any]) -> None:
    cash = cash_received(state.conn, sorted({r.loan_id for r in pending}), min(r.made_on for r in pending))
    grace = state.strategy.doc.promise.grace_days
    evaluated, escalated, outcomes = [], [], []
    for promise in pending:
        paid = _paid_between(cash.get(promise.loan_id, ()), promise.made_on, min(state.as_of, promise.follow_up_on))
        status = promise_status(int(promise.amount_minor), paid, promise.promised_for, grace, state.as_of)
        evaluated.append({"promise_id": promise.promise_id, "status": status, "paid_minor": paid,
                          "evaluated_on": state.as_of})
        outcomes.append((promise, status, paid))
    broken = [(promise, open_cases[promise.loan_id]) for promise, status, _ in outcomes if status == "broken"]
    state.look_up_sent(mid for promise, _ in broken
                       for mid in state.message_ids(promise.loan_id, "promise_broken", ("sms",)))
    for promise, status, paid in outcomes:
        if status == "kept":
            _promise_kept(state, promise, paid)
        elif status == "broken":
            escalated.append(_promise_broken(state, promise, paid, open_cases[promise.loan_id]))
    _update_many(state.conn, collection_promises, "promise_id", evaluated)
    _update_many(state.conn, collection_cases, "case_id", escalated)
    state.flush()


def _promise_kept(state: _Run, promise: Any, paid: int) -> None:
    state.counts["promises_kept"] += 1
    state.history(promise.case_id, "promise_kept", {"promise_id": promise.promise_id, "paid_minor": paid})
    state.outbox.add(DomainEvent.new(PROMISE_KEPT, "loan", promise.loan_id, {
        "case_id": promise.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))


def _promise_broken(state: _Run, promise: Any, paid: int, case: Any) -> dict[str, Any]:
    """History, event and message of a broken promise; returns the case's escalation (written by the caller)."""
    state.counts["promises_broken"] += 1
    state.history(case.case_id, "promise_broken", {"promise_id": promise.promise_id, "paid_minor": paid,
                                                   "amount_minor": int(promise.amount_minor)})
    state.history(case.case_id, "escalated", {"reason": "promise_broken"})
    state.outbox.add(DomainEvent.new(PROMISE_BROKEN, "loan", promise.loan_id, {
        "case_id": case.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))
    step = Step("promise_broken", case.stage, "high", "escalate", ("sms",), "promise_broken", 1)
    values = MessageValues(promise.loan_id, int(case.amount_overdue_minor), case.currency,
                           promise.promised_for, int(case.days_past_due))
    state.send(step, "promise_broken", case.case_id, values, step.channels)
    return {"case_id": case.case_id, "escalated": True, "broken_promises": case.broken_promises + 1,
            "next_action": "escalate", "updated_at": state.now}


def _close_cured(state: _Run, cases: Mapping[str, Any]) -> None:
    """Close the cases of loans no longer overdue; their still-pending promises are cancelled."""
    ids = sorted(cases)
    for chunk in _chunks(ids):
        status = {r.loan_id: r.status for r in state.conn.execute(
            select(loans.c.loan_id, loans.c.status).where(loans.c.loan_id.in_(chunk)))}
        closing, cancelled = [], []
        for loan_id in chunk:
            case = cases[loan_id]
            reason = {"closed": "closed", "written_off": "written_off"}.get(status[loan_id], "current")
            closing.append({"case_id": case.case_id, "status": "closed", "closed_on": state.as_of,
                            "close_reason": reason, "next_action": "", "as_of": state.as_of,
                            "updated_at": state.now})
            cancelled.append({"b_case_id": case.case_id})
            state.history(case.case_id, "closed", {"reason": reason})
            state.outbox.add(DomainEvent.new(CASE_CLOSED, "loan", loan_id, {
                "case_id": case.case_id, "reason": reason, "as_of": state.as_of.isoformat()},
                occurred_at=state.now))
            state.counts["cases_closed"] += 1
        _update_many(state.conn, collection_cases, "case_id", closing)
        p = collection_promises.c
        state.conn.execute(update(collection_promises).where(p.case_id == bindparam("b_case_id"),
                                                             p.status == "pending")
                           .values(status="cancelled", evaluated_on=state.as_of), cancelled)
        state.flush()


def _work_overdue(state: _Run, overdue: Mapping[str, Any]) -> None:
    for chunk in _chunks(sorted(overdue)):
        _work_chunk(state, [overdue[loan_id] for loan_id in chunk])


def _work_chunk(state: _Run, chunk: Sequence[Any]) -> None:
    """One chunk of overdue loans: read everything the roll model and the strategy need with one query
    per table, plan each loan's case (pure), then take the steps and write the cases in bulk."""
    ids = [loan.loan_id for loan in chunk]
    conn, as_of = state.conn, state.as_of
    insts = _installments(conn, ids)
    cash = cash_received(conn, ids, as_of - timedelta(days=PAID_WINDOW_DAYS))
    pds, alerts = _origination_pd(conn, ids), _open_alerts(conn, ids)
    # read after the promises were evaluated: a broken promise has just escalated its case
    c, p = collection_cases.c, collection_promises.c
    cases = {r.loan_id: r for r in conn.execute(select(collection_cases).where(c.status == "open",
                                                                              c.loan_id.in_(ids)))}
    holding = set(conn.execute(select(p.case_id).where(p.status == "pending", p.loan_id.in_(ids))).scalars())
    plans = []
    for loan in chunk:
        due = [i for i in insts.get(loan.loan_id, []) if i.due_date < as_of and _unpaid(i) > 0]
        amount_overdue = sum(_unpaid(i) for i in due) + _receivable(loan, "penalty")
        case = cases.get(loan.loan_id)
        inputs = RollInputs(
            bucket=loan.bucket, days_past_due=int(loan.days_past_due),
            missed_last_3=missed_in_last([(i.due_date, _unpaid(i) == 0) for i in insts.get(loan.loan_id, [])],
                                         as_of),
            paid_last_30_minor=_paid_between(cash.get(loan.loan_id, ()), as_of - timedelta(days=PAID_WINDOW_DAYS),
                                             as_of),
            origination_pd=pds.get(loan.loan_id), open_alerts=alerts.get(loan.loan_id, 0),
            broken_promises=int(case.broken_promises) if case is not None else 0)
        plans.append(_plan_case(state, loan, case, inputs, amount_overdue, due[0].due_date if due else as_of,
                                holding))
    state.look_up_sent(mid for plan in plans if plan.step_due
                       for mid in state.message_ids(plan.loan_id, plan.step.step_id, plan.step.channels))
    opened: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for plan in plans:
        (opened if plan.case is None else updated).append(_work_case(state, plan))
    if opened:
        conn.execute(insert(collection_cases), opened)
    _update_many(conn, collection_cases, "case_id", [row for row in updated if row])
    state.flush()


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the run does with one overdue loan today, computed from the preloaded rows (no I/O)."""

    loan_id: str
    loan: Any
    case: Any  # the open case row, None: a case is opened today
    case_id: str
    roll: int
    step: Step
    values: dict[str, Any]  # the case's columns as of today
    held: bool  # a promise is pending: no dunning
    step_due: bool
    message: MessageValues


def _plan_case(state: _Run, loan: Any, case: Any, inputs: RollInputs, amount_overdue: int, oldest_due: date,
               holding: set[str]) -> _Plan:
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
    # a new case has taken no step yet (last stage '', no last day) and no promise can be pending on it
    case_id = case.case_id if case is not None else f"C-{loan.loan_id}-{as_of:%Y%m%d}"
    held = case is not None and case.case_id in holding
    due = not held and step_due(case.last_stage if case is not None else "",
                                case.last_step_on if case is not None else None, step, as_of)
    message = MessageValues(loan.loan_id, amount_overdue, loan.currency, oldest_due, inputs.days_past_due)
    return _Plan(loan.loan_id, loan, case, case_id, roll, step, values, held, due, message)


def _work_case(state: _Run, plan: _Plan) -> dict[str, Any]:
    """Take the plan's step; returns the case row to insert (a new case) or the columns to update
    (empty when the stored case already holds them: a second run of the day writes nothing)."""
    values, step = dict(plan.values), plan.step
    if plan.case is None:
        _open_case(state, plan.loan_id, plan.case_id, values)
    else:
        state.counts["cases_updated"] += 1
    if plan.held:  # a promise is pending: no dunning until it is kept or broken
        state.counts["held"] += 1
        values["next_action"] = "follow_up"
    elif plan.step_due:
        state.send(step, step.step_id, plan.case_id, plan.message, step.channels)
        state.history(plan.case_id, "step", {"step_id": step.step_id, "action": step.action,
                                             "channels": list(step.channels), "roll_ppm": plan.roll})
        state.counts["steps_taken"] += 1
        values |= {"last_stage": step.stage, "last_step_on": state.as_of,
                   "next_action": "" if step.action == "reminder" else step.action}
    if plan.case is None:
        return _new_case_row(state, plan.loan_id, plan.case_id, values)
    stored = plan.case._mapping
    if all(stored[k] == v for k, v in values.items() if k != "updated_at"):
        return {}
    return {"case_id": plan.case_id, **values}


def _new_case_row(state: _Run, loan_id: str, case_id: str, values: dict[str, Any]) -> dict[str, Any]:
    row = {"case_id": case_id, "loan_id": loan_id, "status": "open", "opened_on": state.as_of, "closed_on": None,
           "close_reason": "", "escalated": False, "broken_promises": 0, "collector": "", "assigned_at": None,
           "last_stage": "", "last_step_on": None, "next_action": "", "created_at": state.now}
    return row | values


def _open_case(state: _Run, loan_id: str, case_id: str, values: dict[str, Any]) -> None:
    state.history(case_id, "opened", {"days_past_due": values["days_past_due"], "bucket": values["bucket"],
                                      "amount_overdue_minor": values["amount_overdue_minor"]})
    state.outbox.add(DomainEvent.new(CASE_OPENED, "loan", loan_id, {
        "case_id": case_id, "as_of": state.as_of.isoformat(), "days_past_due": values["days_past_due"],
        "amount_overdue_minor": values["amount_overdue_minor"], "currency": values["currency"]},
        occurred_at=state.now))
    state.counts["cases_opened"] += 1


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
    due = [(inst, step) for inst in state.conn.execute(query)
           if _unpaid(inst) > 0 and (step := state.strategy.reminder_for((inst.due_date - state.as_of).days))]
    for start in range(0, len(due), IN_CHUNK):
        chunk = due[start:start + IN_CHUNK]
        state.look_up_sent(mid for inst, step in chunk
                           for mid in state.message_ids(inst.loan_id, step.step_id, step.channels))
        for inst, step in chunk:
            values = MessageValues(inst.loan_id, _unpaid(inst), inst.currency, inst.due_date, 0)
            state.counts["reminders_sent"] += state.send(step, step.step_id, "", values, step.channels)
        state.flush()


# --------------------------------------------------------------------------- contact log and promises


def _history(conn: Connection, case_id: str, on: date, kind: str, detail: dict[str, Any], by: str,
             at: datetime) -> None:
    conn.execute(insert(collection_history).values(case_id=case_id, on=on, kind=kind, by=by, detail=detail, at=at))


def _open_case_for_update(conn: Connection, case_id: Any) -> Any:
    check_text(case_id, "case_id", max_length=200)
    query = select(collection_cases).where(collection_cases.c.case_id == case_id)
    if conn.dialect.name == "postgresql":  # two collectors acting at once must not both pass the checks
        query = query.with_for_update()
    case = conn.execute(query).first()
    if case is None:
        raise CollectionsError("case_id", f"unknown case {case_id!r}")
    if case.status != "open":
        raise CollectionsError("case_id", f"case {case_id!r} is closed ({case.close_reason})")
    return case


def _check_when(at: datetime | None, now: datetime) -> datetime:
    if at is None:
        return now
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise CollectionsError("at", "a timezone-aware date and time")
    if at > now:
        raise CollectionsError("at", f"{at.isoformat()} is in the future")
    return at.astimezone(UTC)


def log_contact(engine: Engine, case_id: str, *, outcome: str, by: str, note: str = "",
                at: datetime | None = None) -> dict[str, Any]:
    """Record one contact attempt (a call, a visit) and its outcome. A promise is recorded by `promise`."""
    check_choice(outcome, "outcome", CONTACT_OUTCOMES)
    if outcome == "promised":
        raise CollectionsError("outcome", "record a promise with `promise` (it needs the amount and the date)")
    who = check_text(by, "by", max_length=NAME_MAX)
    text = check_text(note, "note", max_length=NOTE_MAX, required=False)
    now = datetime.now(UTC)
    when = _check_when(at, now)
    with UnitOfWork(engine) as uow:
        case = _open_case_for_update(uow.connection, case_id)
        contact = _insert_contact(uow.connection, case, outcome, text, who, when, now)
        _history(uow.connection, case.case_id, when.date(), "contact",
                 {"outcome": outcome, "note": text}, who, now)
    return contact


def _insert_contact(conn: Connection, case: Any, outcome: str, note: str, by: str, when: datetime,
                    now: datetime) -> dict[str, Any]:
    values = {"case_id": case.case_id, "loan_id": case.loan_id, "outcome": outcome, "note": note, "by": by,
              "contacted_at": when, "recorded_at": now}
    conn.execute(insert(collection_contacts).values(**values))
    return _json(values)


def promise(engine: Engine, case_id: str, *, amount_minor: int, promised_for: date, on: date, by: str,
            note: str = "", strategy: Strategy | None = None) -> dict[str, Any]:
    """A promise to pay (承诺还款) `amount_minor` by `promised_for`, made on business date `on`; recorded
    with its contact. The run decides kept / broken on the follow-up date (promised date + grace)."""
    strat = strategy or load_strategy()
    amount = check_amount(amount_minor)
    who = check_text(by, "by", max_length=NAME_MAX)
    text = check_text(note, "note", max_length=NOTE_MAX, required=False)
    for name, value in (("promised_for", promised_for), ("on", on)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CollectionsError(name, f"a date, got {value!r}")
    if promised_for < on:
        raise CollectionsError("promised_for", f"{promised_for} is in the past (the promise is made on {on})")
    ahead = strat.doc.promise.max_days_ahead
    if (promised_for - on).days > ahead:
        raise CollectionsError("promised_for", f"at most {ahead} days after {on}, got {promised_for}")
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        case = _open_case_for_update(conn, case_id)
        _check_promise_fits(conn, case, amount, on)
        row = {"promise_id": f"P-{uuid.uuid4().hex[:16]}", "case_id": case.case_id, "loan_id": case.loan_id,
               "amount_minor": amount, "currency": case.currency, "made_on": on, "promised_for": promised_for,
               "follow_up_on": promised_for + timedelta(days=strat.doc.promise.grace_days), "status": "pending",
               "paid_minor": 0, "evaluated_on": None, "by": who, "created_at": now}
        conn.execute(insert(collection_promises).values(**row))
        _insert_contact(conn, case, "promised", text, who, now, now)
        conn.execute(update(collection_cases).where(collection_cases.c.case_id == case.case_id)
                     .values(next_action="follow_up", updated_at=now))
        _history(conn, case.case_id, on, "promise", {"promise_id": row["promise_id"], "amount_minor": amount,
                                                     "promised_for": promised_for.isoformat()}, who, now)
        uow.outbox.add(DomainEvent.new(PROMISE_MADE, "loan", case.loan_id, {
            "case_id": case.case_id, "promise_id": row["promise_id"], "amount_minor": amount,
            "currency": case.currency, "promised_for": promised_for.isoformat()}, occurred_at=now))
    return _json(row)


def _check_promise_fits(conn: Connection, case: Any, amount: int, on: date) -> None:
    if on < case.opened_on:
        raise CollectionsError("on", f"{on} is before the case was opened ({case.opened_on})")
    p = collection_promises.c
    pending = conn.execute(select(p.promise_id, p.promised_for).where(
        p.case_id == case.case_id, p.status == "pending")).first()
    if pending is not None:
        raise CollectionsError("case_id", f"promise {pending.promise_id} (due {pending.promised_for}) is still "
                                          "pending; it is kept or broken first")
    loan = conn.execute(select(loans).where(loans.c.loan_id == case.loan_id)).one()
    owed = exposure_of(loan)
    if amount > owed:
        raise CollectionsError("amount_minor", f"{amount} is more than the loan owes ({owed})")


# --------------------------------------------------------------------------- queues and assignment


def _open_load(conn: Connection, collectors: Sequence[str]) -> dict[str, int]:
    c = collection_cases.c
    rows = conn.execute(select(c.collector, func.count().label("n")).where(
        c.status == "open", c.collector.in_(list(collectors))).group_by(c.collector))
    return {r.collector: int(r.n) for r in rows}


def assign(engine: Engine, case_id: str, collector: str, *, by: str, capacity: int | None = None,
           strategy: Strategy | None = None) -> dict[str, Any]:
    """Give one open case to a collector (催收员) with room under the capacity limit."""
    who = check_text(by, "by", max_length=NAME_MAX)
    agent = check_text(collector, "collector", max_length=NAME_MAX)
    limit = _capacity(capacity, strategy)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        _check_collectors(uow.connection, [agent], ["collector"])
        case = _open_case_for_update(uow.connection, case_id)
        if case.collector == agent:
            return get_case_in(uow.connection, case.case_id)
        load = _open_load(uow.connection, [agent]).get(agent, 0)
        if load >= limit:
            raise CollectionsError("collector", f"{agent} already has {load} open cases (capacity {limit})")
        _assign_one(uow.connection, case, agent, who, now)
        return get_case_in(uow.connection, case.case_id)


def _check_collectors(conn: Connection, names: Sequence[str], fields: Sequence[str]) -> None:
    """A case goes only to someone who can log in and work it: an enabled staff user whose role is
    collections agent (the console offers only those; the CLI and the service hold to it too)."""
    assert len(names) == len(fields) and len(names) <= COLLECTORS_MAX
    u = staff_users.c
    found = {r.username: r for r in conn.execute(select(u.username, u.role, u.disabled_at)
                                                  .where(u.username.in_(list(names))))}
    for name, field in zip(names, fields, strict=True):
        user = found.get(name)
        if user is None or user.role != COLLECTOR_ROLE or user.disabled_at is not None:
            raise CollectionsError(field, f"{name!r} is not an enabled collections agent "
                                          f"(a staff user with role {COLLECTOR_ROLE})")


def _capacity(capacity: int | None, strategy: Strategy | None) -> int:
    if capacity is None:
        return (strategy or load_strategy()).doc.queue.capacity_per_collector
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise CollectionsError("capacity", f"a whole number >= 1, got {capacity!r}")
    return capacity


def _assign_one(conn: Connection, case: Any, agent: str, by: str, now: datetime) -> None:
    conn.execute(update(collection_cases).where(collection_cases.c.case_id == case.case_id)
                 .values(collector=agent, assigned_at=now, updated_at=now))
    _history(conn, case.case_id, case.as_of, "assigned", {"collector": agent, "from": case.collector}, by, now)


def auto_assign(engine: Engine, collectors: Sequence[str], *, by: str, capacity: int | None = None,
                strategy: Strategy | None = None) -> dict[str, Any]:
    """Fill the collectors' queues from the unassigned cases, highest priority first, up to capacity."""
    who = check_text(by, "by", max_length=NAME_MAX)
    agents = [check_text(c, f"collectors[{i}]", max_length=NAME_MAX) for i, c in enumerate(collectors)]
    if not agents or len(set(agents)) != len(agents) or len(agents) > COLLECTORS_MAX:
        raise CollectionsError("collectors", f"one to {COLLECTORS_MAX} distinct collectors")
    limit = _capacity(capacity, strategy)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        _check_collectors(conn, agents, [f"collectors[{i}]" for i in range(len(agents))])
        c = collection_cases.c
        rows = {r.case_id: r for r in conn.execute(select(collection_cases).where(c.status == "open",
                                                                                    c.collector == ""))}
        items = [QueueItem(r.case_id, int(r.priority_minor), int(r.days_past_due), "") for r in rows.values()]
        plan = plan_assignments(items, agents, _open_load(conn, agents), limit)
        for case_id, agent in plan:
            _assign_one(conn, rows[case_id], agent, who, now)
    counts = Counter(agent for _, agent in plan)
    return {"assigned": len(plan), "by_collector": {a: counts[a] for a in agents},
            "unassigned_left": len(items) - len(plan)}


def list_queue(engine: Engine, *, collector: str | None = None, unassigned: bool = False,
               limit: int = LIST_MAX) -> list[dict[str, Any]]:
    """Open cases in work order (expected roll amount first), optionally one collector's or the unassigned."""
    assert 0 < limit <= LIST_MAX
    c = collection_cases.c
    query = select(collection_cases).where(c.status == "open")
    if collector is not None:
        query = query.where(c.collector == collector)
    if unassigned:
        query = query.where(c.collector == "")
    with engine.connect() as conn:
        rows = {r.case_id: r for r in conn.execute(query)}
    ordered = queue_order([QueueItem(r.case_id, int(r.priority_minor), int(r.days_past_due), r.collector)
                           for r in rows.values()])
    return [_case_json(rows[i.case_id]) for i in ordered[:limit]]


def list_cases(engine: Engine, *, status: str | None = None, loan_id: str | None = None,
               limit: int = LIST_MAX) -> list[dict[str, Any]]:
    assert 0 < limit <= LIST_MAX
    if status is not None:
        check_choice(status, "status", ("open", "closed"))
    c = collection_cases.c
    query = select(collection_cases).order_by(c.opened_on.desc(), c.case_id)
    if status is not None:
        query = query.where(c.status == status)
    if loan_id is not None:
        query = query.where(c.loan_id == loan_id)
    with engine.connect() as conn:
        return [_case_json(r) for r in conn.execute(query.limit(limit))]


def get_case(engine: Engine, case_id: str) -> dict[str, Any]:
    """One case with its contact log, promises, messages and history (for the console's case page)."""
    with engine.connect() as conn:
        return get_case_in(conn, case_id)


def get_case_in(conn: Connection, case_id: str) -> dict[str, Any]:
    case = conn.execute(select(collection_cases).where(collection_cases.c.case_id == case_id)).first()
    if case is None:
        raise CollectionsError("case_id", f"unknown case {case_id!r}")
    ct, pr, ms, hi = (collection_contacts.c, collection_promises.c, collection_messages.c, collection_history.c)
    return {
        **_case_json(case),
        "contacts": [_json(dict(r._mapping)) for r in conn.execute(
            select(collection_contacts).where(ct.case_id == case_id).order_by(ct.contacted_at, ct.id))],
        "promises": [_json(dict(r._mapping)) for r in conn.execute(
            select(collection_promises).where(pr.case_id == case_id).order_by(pr.made_on, pr.created_at))],
        "messages": [_json(dict(r._mapping)) for r in conn.execute(
            select(collection_messages).where(ms.case_id == case_id).order_by(ms.as_of, ms.message_id))],
        "history": [_json(dict(r._mapping)) for r in conn.execute(
            select(collection_history).where(hi.case_id == case_id).order_by(hi.id))],
    }


def list_messages(engine: Engine, *, loan_id: str | None = None, as_of: date | None = None,
                  limit: int = LIST_MAX) -> list[dict[str, Any]]:
    assert 0 < limit <= LIST_MAX
    m = collection_messages.c
    query = select(collection_messages).order_by(m.as_of.desc(), m.message_id)
    conditions = [cond for cond in (m.loan_id == loan_id if loan_id else None, m.as_of == as_of if as_of else None)
                  if cond is not None]
    if conditions:
        query = query.where(and_(*conditions))
    with engine.connect() as conn:
        return [_json(dict(r._mapping)) for r in conn.execute(query.limit(limit))]


def _case_json(row: Any) -> dict[str, Any]:
    out = _json(dict(row._mapping))
    out["p_roll"] = f"{Decimal(int(row.roll_ppm)) / PPM:.6f}"
    return out


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}
