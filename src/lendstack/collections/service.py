"""The use cases of collections (催收): the daily run, the contact log, promises to pay and collector queues.

`run(engine, as_of)` is one unit of work over the book as end of day left it on `as_of`: it evaluates
pending promises against the cash the loan actually received (the ledger), closes the cases of loans
that are current, repaid or written off, opens or updates a case per overdue loan with its P(roll),
risk band and priority, takes the strategy's step and sends its messages, and sends the reminders of
loans falling due. Messages go through `Channel`s; the default `OutboxChannel` writes each one as a
`collections.message_sent` outbox event in the same transaction. A message's id is (loan, step, day,
channel), so running a day twice sends nothing twice.

This module only orchestrates: the SQL is in `repository.py`, the rules in `planning.py` and `domain.py`,
the values in `records.py`. Every write command validates first and writes nothing on bad input (a
CollectionsError names the field).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from lendstack.collections.domain import (
    CONTACT_OUTCOMES,
    CollectionsError,
    Message,
    MessageValues,
    QueueItem,
    Receipt,
    Step,
    Strategy,
    check_amount,
    check_choice,
    check_text,
    load_strategy,
    message_id,
    plan_assignments,
    queue_order,
)
from lendstack.collections.planning import (
    BROKEN_PROMISE_STEP_ID,
    CASE_ID_MAX,
    PAID_WINDOW_DAYS,
    CaseClosing,
    CaseEscalation,
    CaseNotFound,
    CasePlan,
    CaseUpdate,
    amount_overdue_minor,
    broken_promise_message,
    case_update,
    check_as_of,
    check_capacity,
    check_collectors,
    check_open,
    check_promise_dates,
    check_promise_fits,
    check_room,
    check_when,
    close_reason,
    escalation,
    evaluate_promise,
    exposure_minor,
    new_case,
    overdue_installments,
    plan_case,
    roll_inputs,
    unpaid_minor,
)
from lendstack.collections.records import (
    Case,
    CaseDetail,
    Contact,
    HistoryEntry,
    LoanBalances,
    PromiseToPay,
    SentMessage,
)
from lendstack.collections.repository import IN_CHUNK, CollectionsRepository
from lendstack.events import DomainEvent
from lendstack.invariants import check
from lendstack.services.staff import COLLECTIONS
from lendstack.store import Engine, Outbox, UnitOfWork

CASE_OPENED = "collections.case_opened"
CASE_CLOSED = "collections.case_closed"
MESSAGE_SENT = "collections.message_sent"
PROMISE_MADE = "collections.promise_made"
PROMISE_KEPT = "collections.promise_kept"
PROMISE_BROKEN = "collections.promise_broken"
SYSTEM = "system"
LIST_MAX = 1000
NAME_MAX, NOTE_MAX = 64, 2000
COLLECTORS_MAX = 200  # one auto-assignment fills at most this many queues
COLLECTOR_ROLE = COLLECTIONS  # the staff role that works cases
RUN_COUNTS = ("cases_opened", "cases_updated", "cases_closed", "steps_taken", "held", "messages_sent",
              "reminders_sent", "promises_kept", "promises_broken")


class Channel(Protocol):
    """Where a message goes: SMS, e-mail or app push. Adapters to real gateways implement this."""

    def send(self, message: Message) -> Receipt: ...


class OutboxChannel:
    """The default adapter: the message becomes a `collections.message_sent` outbox event in the run's
    transaction; a relay (webhooks dispatch, a gateway worker) delivers it after the commit."""

    def __init__(self, uow: UnitOfWork, channel: str) -> None:
        self.uow, self.channel = uow, channel

    def send(self, message: Message) -> Receipt:
        check(message.channel == self.channel, "a channel sends only its own messages")
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
    """The run works the loans in chunks as large as the repository's IN lists (IN_CHUNK)."""
    for start in range(0, len(ids), IN_CHUNK):
        yield list(ids[start:start + IN_CHUNK])


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one daily run did."""

    as_of: date
    strategy: str
    overdue_loans: int
    cases_opened: int
    cases_updated: int
    cases_closed: int
    steps_taken: int
    held: int
    messages_sent: int
    reminders_sent: int
    promises_kept: int
    promises_broken: int

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "strategy": self.strategy, "overdue_loans": self.overdue_loans,
                **{k: getattr(self, k) for k in RUN_COUNTS}}


@dataclass(frozen=True, slots=True)
class AssignmentReport:
    """What one auto-assignment did: cases handed out, per collector (in the order asked), and left over."""

    assigned: int
    by_collector: Mapping[str, int]
    unassigned_left: int

    def to_json(self) -> dict[str, Any]:
        return {"assigned": self.assigned, "by_collector": dict(self.by_collector),
                "unassigned_left": self.unassigned_left}


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


class _Run:
    """The state of one run: its repository, strategy, date, channels and counters, and what it has not
    written yet (history, messages, events): `flush` writes each table with one statement."""

    def __init__(self, repo: CollectionsRepository, strategy: Strategy, as_of: date,
                 channels: Mapping[str, Channel], outbox: _RunOutbox) -> None:
        self.repo, self.strategy, self.as_of, self.channels = repo, strategy, as_of, channels
        self.outbox = outbox
        self.now = datetime.now(UTC)
        self.counts: Counter[str] = Counter()
        self.history_rows: list[HistoryEntry] = []
        self.message_rows: list[SentMessage] = []
        self.sent: set[str] = set()  # message ids known to be stored (or about to be) ...
        self.checked: set[str] = set()  # ... out of the ids already looked up
        self.languages = repo.borrower_languages()

    def history(self, case_id: str, kind: str, detail: dict[str, Any], by: str = SYSTEM) -> None:
        self.history_rows.append(HistoryEntry(None, case_id, self.as_of, kind, by, detail, self.now))

    def message_ids(self, loan_id: str, step_id: str, channels: Sequence[str]) -> list[str]:
        return [message_id(loan_id, step_id, self.as_of, c) for c in channels]

    def look_up_sent(self, ids: Iterable[str]) -> None:
        """Which of these message ids are stored already: one query per IN chunk, not one per loan."""
        todo = sorted(set(ids) - self.checked)
        self.sent.update(self.repo.stored_message_ids(todo))
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
            self.message_rows.append(SentMessage(
                message_id=mid, loan_id=values.loan_id, case_id=case_id, as_of=self.as_of, step_id=step_id,
                action=step.action, channel=channel, language=message.language, template=step.template,
                body=dict(body), sent_at=self.now,
                receipt={"channel": receipt.channel, "reference": receipt.reference, "status": receipt.status,
                         "at": receipt.at.isoformat()}))
        self.counts["messages_sent"] += len(todo)
        return len(todo)

    def flush(self) -> None:
        """Write what the chunk produced: one executemany per table (the cases are written by the caller
        first, so a history row or message never precedes its case)."""
        self.repo.add_messages(self.message_rows)
        self.repo.add_history(self.history_rows)
        self.outbox.flush()
        self.message_rows, self.history_rows = [], []


def run(engine: Engine, as_of: date, *, strategy: Strategy | None = None,
        channels: ChannelFactory | None = None) -> RunReport:
    """The daily collections run (after end of day for `as_of`). Idempotent per day.

    Set-based: the loans are worked in chunks of IN_CHUNK, each chunk read with one query per table
    and written with one statement per table; the results are those of working the loans one by one
    in loan-id order (tests/collections/test_collections_batch.py compares the two on random books)."""
    strat = strategy or load_strategy()
    with UnitOfWork(engine) as uow:
        check_as_of(uow.loans.closed_through(), as_of)
        repo = CollectionsRepository(uow.connection)
        outbox = _RunOutbox(uow.outbox)
        uow.outbox = outbox  # the channels built below write to it through the unit of work
        try:
            state = _Run(repo, strat, as_of, (channels or outbox_channels)(uow), outbox)
            overdue = {loan.loan_id: loan for loan in repo.overdue_loans()}
            open_cases = {case.loan_id: case for case in repo.open_cases()}
            _evaluate_promises(state, open_cases)
            _close_cured(state, {k: v for k, v in open_cases.items() if k not in overdue})
            _work_overdue(state, overdue)
            _send_reminders(state)
            check(not outbox.events and not state.history_rows and not state.message_rows, "all flushed")
        finally:
            uow.outbox = outbox.target
    counts = state.counts
    return RunReport(as_of, strat.version, len(overdue), *(counts[k] for k in RUN_COUNTS))


def _evaluate_promises(state: _Run, open_cases: Mapping[str, Case]) -> None:
    """Pending promises of open cases: kept once the cash since the promise covers it, broken after the
    promised date plus grace. A broken promise escalates the case (high risk from then on)."""
    pending = state.repo.pending_promises(sorted(c.case_id for c in open_cases.values()))
    for start in range(0, len(pending), IN_CHUNK):
        _evaluate_chunk(state, pending[start:start + IN_CHUNK], open_cases)


def _evaluate_chunk(state: _Run, pending: Sequence[PromiseToPay], open_cases: Mapping[str, Case]) -> None:
    cash = state.repo.cash_received(sorted({p.loan_id for p in pending}), min(p.made_on for p in pending))
    grace = state.strategy.doc.promise.grace_days
    evaluations = [evaluate_promise(p, cash.get(p.loan_id, ()), grace, state.as_of) for p in pending]
    outcomes = list(zip(pending, evaluations, strict=True))
    state.look_up_sent(mid for promise, evaluation in outcomes if evaluation.status == "broken"
                       for mid in state.message_ids(promise.loan_id, BROKEN_PROMISE_STEP_ID, ("sms",)))
    escalated: list[CaseEscalation] = []
    for promise, evaluation in outcomes:
        if evaluation.status == "kept":
            _promise_kept(state, promise, evaluation.paid_minor)
        elif evaluation.status == "broken":
            escalated.append(_promise_broken(state, promise, evaluation.paid_minor, open_cases[promise.loan_id]))
    state.repo.record_evaluations(evaluations)
    state.repo.escalate(escalated)
    state.flush()


def _promise_kept(state: _Run, promise: PromiseToPay, paid: int) -> None:
    state.counts["promises_kept"] += 1
    state.history(promise.case_id, "promise_kept", {"promise_id": promise.promise_id, "paid_minor": paid})
    state.outbox.add(DomainEvent.new(PROMISE_KEPT, "loan", promise.loan_id, {
        "case_id": promise.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))


def _promise_broken(state: _Run, promise: PromiseToPay, paid: int, case: Case) -> CaseEscalation:
    """History, event and message of a broken promise; returns the case's escalation (written by the caller)."""
    state.counts["promises_broken"] += 1
    state.history(case.case_id, "promise_broken", {"promise_id": promise.promise_id, "paid_minor": paid,
                                                   "amount_minor": int(promise.amount_minor)})
    state.history(case.case_id, "escalated", {"reason": "promise_broken"})
    state.outbox.add(DomainEvent.new(PROMISE_BROKEN, "loan", promise.loan_id, {
        "case_id": case.case_id, "promise_id": promise.promise_id, "amount_minor": int(promise.amount_minor),
        "paid_minor": paid, "as_of": state.as_of.isoformat()}, occurred_at=state.now))
    step, values = broken_promise_message(case, promise)
    state.send(step, step.step_id, case.case_id, values, step.channels)
    return escalation(case, state.now)


def _close_cured(state: _Run, cases: Mapping[str, Case]) -> None:
    """Close the cases of loans no longer overdue; their still-pending promises are cancelled."""
    for chunk in _chunks(sorted(cases)):
        status = state.repo.loan_statuses(chunk)
        closings: list[CaseClosing] = []
        for loan_id in chunk:
            case = cases[loan_id]
            reason = close_reason(status[loan_id])
            closings.append(CaseClosing(case.case_id, reason, state.as_of, state.now))
            state.history(case.case_id, "closed", {"reason": reason})
            state.outbox.add(DomainEvent.new(CASE_CLOSED, "loan", loan_id, {
                "case_id": case.case_id, "reason": reason, "as_of": state.as_of.isoformat()},
                occurred_at=state.now))
            state.counts["cases_closed"] += 1
        state.repo.close_cases(closings)
        state.flush()


def _work_overdue(state: _Run, overdue: Mapping[str, LoanBalances]) -> None:
    for chunk in _chunks(sorted(overdue)):
        _work_chunk(state, [overdue[loan_id] for loan_id in chunk])


def _work_chunk(state: _Run, chunk: Sequence[LoanBalances]) -> None:
    """One chunk of overdue loans: read everything the roll model and the strategy need with one query
    per table, plan each loan's case (pure), then take the steps and write the cases in bulk."""
    ids = [loan.loan_id for loan in chunk]
    repo, as_of = state.repo, state.as_of
    schedules = repo.installments(ids)
    cash = repo.cash_received(ids, as_of - timedelta(days=PAID_WINDOW_DAYS))
    pds, alerts = repo.origination_pd(ids), repo.open_alert_counts(ids)
    # read after the promises were evaluated: a broken promise has just escalated its case
    cases = repo.open_cases_of(ids)
    holding = repo.cases_holding(ids)
    plans: list[CasePlan] = []
    for loan in chunk:
        schedule = schedules.get(loan.loan_id, [])
        due = overdue_installments(schedule, as_of)
        case = cases.get(loan.loan_id)
        inputs = roll_inputs(loan, schedule, cash.get(loan.loan_id, ()), pds.get(loan.loan_id),
                             alerts.get(loan.loan_id, 0), case, as_of)
        plans.append(plan_case(state.strategy, as_of, state.now, loan, case, inputs, amount_overdue_minor(loan, due),
                               due[0].due_date if due else as_of, holding))
    state.look_up_sent(mid for plan in plans if plan.step_due
                       for mid in state.message_ids(plan.loan_id, plan.step.step_id, plan.step.channels))
    opened: list[Case] = []
    updated: list[CaseUpdate] = []
    for plan in plans:
        update = _work_case(state, plan)
        if plan.case is None:
            opened.append(new_case(plan.loan_id, update, state.now))
        elif update.changes(plan.case):  # a second run of the day writes nothing
            updated.append(update)
    repo.insert_cases(opened)
    repo.update_cases(updated)
    state.flush()


def _work_case(state: _Run, plan: CasePlan) -> CaseUpdate:
    """Take the plan's step (messages, history, events); returns the case's columns after today."""
    step = plan.step
    if plan.case is None:
        _open_case(state, plan)
    else:
        state.counts["cases_updated"] += 1
    if plan.held:  # a promise is pending: no dunning until it is kept or broken
        state.counts["held"] += 1
    elif plan.step_due:
        state.send(step, step.step_id, plan.case_id, plan.message, step.channels)
        state.history(plan.case_id, "step", {"step_id": step.step_id, "action": step.action,
                                             "channels": list(step.channels), "roll_ppm": plan.roll})
        state.counts["steps_taken"] += 1
    return case_update(plan)


def _open_case(state: _Run, plan: CasePlan) -> None:
    f = plan.figures
    state.history(plan.case_id, "opened", {"days_past_due": f.days_past_due, "bucket": f.bucket,
                                           "amount_overdue_minor": f.amount_overdue_minor})
    state.outbox.add(DomainEvent.new(CASE_OPENED, "loan", plan.loan_id, {
        "case_id": plan.case_id, "as_of": state.as_of.isoformat(), "days_past_due": f.days_past_due,
        "amount_overdue_minor": f.amount_overdue_minor, "currency": f.currency}, occurred_at=state.now))
    state.counts["cases_opened"] += 1


def _send_reminders(state: _Run) -> None:
    """Loans in good standing whose next installment falls due in one of the strategy's reminder days."""
    days = state.strategy.reminder_days
    if not days:
        return
    targets = [state.as_of + timedelta(days=d) for d in days]
    due = [(inst, currency, step) for inst, currency in state.repo.installments_due_on(targets)
           if unpaid_minor(inst) > 0 and (step := state.strategy.reminder_for((inst.due_date - state.as_of).days))]
    for start in range(0, len(due), IN_CHUNK):
        chunk = due[start:start + IN_CHUNK]
        state.look_up_sent(mid for inst, _, step in chunk
                           for mid in state.message_ids(inst.loan_id, step.step_id, step.channels))
        for inst, currency, step in chunk:
            values = MessageValues(inst.loan_id, unpaid_minor(inst), currency, inst.due_date, 0)
            state.counts["reminders_sent"] += state.send(step, step.step_id, "", values, step.channels)
        state.flush()


# --------------------------------------------------------------------------- contact log and promises


def _open_case_for_update(repo: CollectionsRepository, case_id: Any) -> Case:
    check_text(case_id, "case_id", max_length=CASE_ID_MAX)
    return check_open(repo.case(case_id, for_update=True), case_id)


def log_contact(engine: Engine, case_id: str, *, outcome: str, by: str, note: str = "",
                at: datetime | None = None) -> Contact:
    """Record one contact attempt (a call, a visit) and its outcome. A promise is recorded by `promise`."""
    check_choice(outcome, "outcome", CONTACT_OUTCOMES)
    if outcome == "promised":
        raise CollectionsError("outcome", "record a promise with `promise` (it needs the amount and the date)")
    who = check_text(by, "by", max_length=NAME_MAX)
    text = check_text(note, "note", max_length=NOTE_MAX, required=False)
    now = datetime.now(UTC)
    when = check_when(at, now)
    with UnitOfWork(engine) as uow:
        repo = CollectionsRepository(uow.connection)
        case = _open_case_for_update(repo, case_id)
        contact = Contact(None, case.case_id, case.loan_id, outcome, text, who, when, now)
        repo.add_contact(contact)
        repo.add_history([HistoryEntry(None, case.case_id, when.date(), "contact", who,
                                       {"outcome": outcome, "note": text}, now)])
    return contact


def promise(engine: Engine, case_id: str, *, amount_minor: int, promised_for: date, on: date, by: str,
            note: str = "", strategy: Strategy | None = None) -> PromiseToPay:
    """A promise to pay (承诺还款) `amount_minor` by `promised_for`, made on business date `on`; recorded
    with its contact. The run decides kept / broken on the follow-up date (promised date + grace)."""
    strat = strategy or load_strategy()
    amount = check_amount(amount_minor)
    who = check_text(by, "by", max_length=NAME_MAX)
    text = check_text(note, "note", max_length=NOTE_MAX, required=False)
    check_promise_dates(promised_for, on, strat.doc.promise.max_days_ahead)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        repo = CollectionsRepository(uow.connection)
        case = _open_case_for_update(repo, case_id)
        owed = exposure_minor(repo.loan_balances(case.loan_id))
        check_promise_fits(case, repo.pending_promise_of(case.case_id), owed, amount, on)
        made = PromiseToPay(
            promise_id=f"P-{uuid.uuid4().hex[:16]}", case_id=case.case_id, loan_id=case.loan_id, amount_minor=amount,
            currency=case.currency, made_on=on, promised_for=promised_for,
            follow_up_on=promised_for + timedelta(days=strat.doc.promise.grace_days), status="pending",
            paid_minor=0, evaluated_on=None, by=who, created_at=now)
        repo.add_promise(made)
        repo.add_contact(Contact(None, case.case_id, case.loan_id, "promised", text, who, now, now))
        repo.set_next_action(case.case_id, "follow_up", now)
        repo.add_history([HistoryEntry(None, case.case_id, on, "promise", who, {
            "promise_id": made.promise_id, "amount_minor": amount, "promised_for": promised_for.isoformat()},
            now)])
        uow.outbox.add(DomainEvent.new(PROMISE_MADE, "loan", case.loan_id, {
            "case_id": case.case_id, "promise_id": made.promise_id, "amount_minor": amount,
            "currency": case.currency, "promised_for": promised_for.isoformat()}, occurred_at=now))
    return made


# --------------------------------------------------------------------------- queues and assignment


def _capacity(capacity: int | None, strategy: Strategy | None) -> int:
    if capacity is None:
        return (strategy or load_strategy()).doc.queue.capacity_per_collector
    return check_capacity(capacity)


def _check_collectors(repo: CollectionsRepository, names: Sequence[str], fields: Sequence[str]) -> None:
    check(len(names) <= COLLECTORS_MAX, "one check looks up a bounded number of collectors")
    check_collectors(names, fields, repo.collector_accounts(names), COLLECTOR_ROLE)


def _assign_one(repo: CollectionsRepository, case: Case, agent: str, by: str, now: datetime) -> None:
    repo.assign(case.case_id, agent, now)
    repo.add_history([HistoryEntry(None, case.case_id, case.as_of, "assigned", by,
                                   {"collector": agent, "from": case.collector}, now)])


def assign(engine: Engine, case_id: str, collector: str, *, by: str, capacity: int | None = None,
           strategy: Strategy | None = None) -> CaseDetail:
    """Give one open case to a collector (催收员) with room under the capacity limit."""
    who = check_text(by, "by", max_length=NAME_MAX)
    agent = check_text(collector, "collector", max_length=NAME_MAX)
    limit = _capacity(capacity, strategy)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        repo = CollectionsRepository(uow.connection)
        _check_collectors(repo, [agent], ["collector"])
        case = _open_case_for_update(repo, case_id)
        if case.collector != agent:
            check_room(agent, repo.open_load([agent]).get(agent, 0), limit)
            _assign_one(repo, case, agent, who, now)
        return _detail(repo, case.case_id)


def auto_assign(engine: Engine, collectors: Sequence[str], *, by: str, capacity: int | None = None,
                strategy: Strategy | None = None) -> AssignmentReport:
    """Fill the collectors' queues from the unassigned cases, highest priority first, up to capacity."""
    who = check_text(by, "by", max_length=NAME_MAX)
    agents = [check_text(c, f"collectors[{i}]", max_length=NAME_MAX) for i, c in enumerate(collectors)]
    if not agents or len(set(agents)) != len(agents) or len(agents) > COLLECTORS_MAX:
        raise CollectionsError("collectors", f"one to {COLLECTORS_MAX} distinct collectors")
    limit = _capacity(capacity, strategy)
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        repo = CollectionsRepository(uow.connection)
        _check_collectors(repo, agents, [f"collectors[{i}]" for i in range(len(agents))])
        cases = {c.case_id: c for c in repo.unassigned_open_cases()}
        items = [QueueItem(c.case_id, int(c.priority_minor), int(c.days_past_due), "") for c in cases.values()]
        plan = plan_assignments(items, agents, repo.open_load(agents), limit)
        for case_id, agent in plan:
            _assign_one(repo, cases[case_id], agent, who, now)
    counts = Counter(agent for _, agent in plan)
    return AssignmentReport(len(plan), {a: counts[a] for a in agents}, len(items) - len(plan))


def list_queue(engine: Engine, *, collector: str | None = None, unassigned: bool = False,
               limit: int = LIST_MAX) -> list[Case]:
    """Open cases in work order (expected roll amount first), optionally one collector's or the unassigned."""
    check(0 < limit <= LIST_MAX, "a bounded page of the queue")
    with engine.connect() as conn:
        cases = {c.case_id: c for c in CollectionsRepository(conn).queue(collector=collector, unassigned=unassigned)}
    ordered = queue_order([QueueItem(c.case_id, int(c.priority_minor), int(c.days_past_due), c.collector)
                           for c in cases.values()])
    return [cases[i.case_id] for i in ordered[:limit]]


def list_cases(engine: Engine, *, status: str | None = None, loan_id: str | None = None,
               limit: int = LIST_MAX) -> list[Case]:
    """Cases, newest first; optionally open or closed ones, or one loan's."""
    check(0 < limit <= LIST_MAX, "a bounded page of cases")
    if status is not None:
        check_choice(status, "status", ("open", "closed"))
    with engine.connect() as conn:
        return CollectionsRepository(conn).cases(status=status, loan_id=loan_id, limit=limit)


def get_case(engine: Engine, case_id: str) -> CaseDetail:
    """One case with its contact log, promises, messages and history (for the console's case page)."""
    with engine.connect() as conn:
        return _detail(CollectionsRepository(conn), case_id)


def _detail(repo: CollectionsRepository, case_id: str) -> CaseDetail:
    case = repo.case(case_id)
    if case is None:
        raise CaseNotFound("case_id", f"unknown case {case_id!r}")
    return CaseDetail(case, repo.contacts(case_id), repo.promises(case_id), repo.messages_of_case(case_id),
                      repo.history(case_id))


def list_messages(engine: Engine, *, loan_id: str | None = None, as_of: date | None = None,
                  limit: int = LIST_MAX) -> list[SentMessage]:
    """Messages sent (reminders and dunning), newest day first."""
    check(0 < limit <= LIST_MAX, "a bounded page of messages")
    with engine.connect() as conn:
        return CollectionsRepository(conn).messages(loan_id=loan_id, as_of=as_of, limit=limit)
