"""Collections against the database (SQLite and PostgreSQL) on a small real book (services.loans + EOD):
reminders before the due date, cases opened / updated / closed by the daily run, messages through the
outbox channel, idempotent runs, promises kept and broken (broken escalates), the contact log, collector
queues with capacity, and bad input that names the field and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from lendstack.collections import service as col
from lendstack.collections.domain import CollectionsError, Message, Receipt
from lendstack.money import Money
from lendstack.services import staff
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan, write_off_loan
from lendstack.store import UnitOfWork
from lendstack.store.tables import outbox
from lendstack.store.tables_collections import (
    collection_cases,
    collection_contacts,
    collection_history,
    collection_messages,
    collection_promises,
)
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_monitoring import ew_alerts


def js(value: Any) -> Any:
    """The JSON document a shell prints of a service result (a record, a report, or a list of records)."""
    return [v.to_json() for v in value] if isinstance(value, list) else value.to_json()


ON = date(2026, 1, 10)
DUE = date(2026, 2, 10)  # the first installment of a loan booked on ON
PRE_DUE = DUE - timedelta(days=3)
OVERDUE_DAY = date(2026, 2, 20)


def book(engine: Engine, amounts: dict[str, int]) -> None:
    for loan_id, major in amounts.items():
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(major * 100, "CNY"), term=12,
                  on=ON, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")


def close_days(engine: Engine, through: date) -> None:
    """End of day without the after-loan hooks (early warning, provisions): these tests plant their own."""
    run_eod(engine, through, hooks=False)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def events(engine: Engine, event_type: str) -> int:
    return count(engine, outbox, outbox.c.event_type == event_type)


def snapshot(engine: Engine) -> dict[str, int]:
    tables = (collection_cases, collection_contacts, collection_history, collection_messages, collection_promises,
              outbox)
    return {t.name: count(engine, t) for t in tables}


def case_of(engine: Engine, loan_id: str) -> dict[str, Any]:
    (found,) = js(col.list_cases(engine, loan_id=loan_id, status="open"))
    return found


@pytest.fixture
def overdue_book(engine: Engine) -> Engine:
    """L0 (12,000) and L2 (24,000) miss their first installment; L1 pays it. EOD closed through 2026-02-20."""
    book(engine, {"L0": 12_000, "L1": 12_000, "L2": 24_000})
    close_days(engine, DUE - timedelta(days=2))
    repay_loan(engine, "L1", DUE - timedelta(days=1), Money(1_200_00, "CNY"), "pay-L1")
    close_days(engine, OVERDUE_DAY)
    return engine


def test_reminders_go_out_before_the_due_date_once(engine: Engine) -> None:
    book(engine, {"L0": 12_000, "L1": 5_000})
    close_days(engine, PRE_DUE)
    first = js(col.run(engine, PRE_DUE))
    assert first["reminders_sent"] == 4 and first["cases_opened"] == 0  # 2 loans × (sms, push)
    assert events(engine, col.MESSAGE_SENT) == 4 == count(engine, collection_messages)
    again = js(col.run(engine, PRE_DUE))
    assert again["reminders_sent"] == 0 and events(engine, col.MESSAGE_SENT) == 4
    (message,) = js(col.list_messages(engine, loan_id="L1", as_of=PRE_DUE))[:1]
    assert message["step_id"] == "pre_due_3" and message["case_id"] == ""
    assert DUE.isoformat() in message["body"]["en"] and DUE.isoformat() in message["body"]["zh-CN"]
    # the amount in the message is the installment's, formatted exactly from minor units
    loan = get_loan(engine, "L1")
    first = loan.installments[0]
    due_minor = first.principal_minor + first.interest_minor + first.fee_minor
    assert f"{due_minor // 100}.{due_minor % 100:02d} CNY" in message["body"]["en"]
    close_days(engine, DUE)
    assert js(col.run(engine, DUE))["reminders_sent"] == 2  # due today: push only


def test_the_run_opens_cases_by_priority_and_is_idempotent(overdue_book: Engine) -> None:
    engine = overdue_book
    report = js(col.run(engine, OVERDUE_DAY))
    assert report["overdue_loans"] == 2 and report["cases_opened"] == 2 and report["steps_taken"] == 2
    assert events(engine, col.CASE_OPENED) == 2
    assert events(engine, col.MESSAGE_SENT) == report["messages_sent"] == count(engine, collection_messages) > 0
    queue = js(col.list_queue(engine))
    assert [c["loan_id"] for c in queue] == ["L2", "L0"]  # twice the amount overdue, same P(roll)
    l0, l2 = queue[1], queue[0]
    assert l0["roll_ppm"] == l2["roll_ppm"] and l2["priority_minor"] > l0["priority_minor"]
    for case in queue:
        assert case["priority_minor"] == case["amount_overdue_minor"] * case["roll_ppm"] // 1_000_000
        assert case["days_past_due"] == 10 and case["stage"] == "day7" and case["last_step_on"] == "2026-02-20"
        assert 0 < case["amount_overdue_minor"] < case["exposure_minor"]
    before = snapshot(engine)
    again = js(col.run(engine, OVERDUE_DAY))
    assert again["cases_opened"] == 0 and again["messages_sent"] == 0 and again["steps_taken"] == 0
    assert snapshot(engine) == before  # nothing sent, stored or announced twice
    detail = js(col.get_case(engine, l0["case_id"]))
    assert [h["kind"] for h in detail["history"]] == ["opened", "step"]
    assert {m["channel"] for m in detail["messages"]} == {"sms"}


def test_a_run_on_a_day_end_of_day_has_not_closed_is_refused(overdue_book: Engine) -> None:
    before = snapshot(overdue_book)
    for day in (OVERDUE_DAY + timedelta(days=1), OVERDUE_DAY - timedelta(days=1)):
        with pytest.raises(CollectionsError) as caught:
            col.run(overdue_book, day)
        assert caught.value.field == "as_of"
    assert snapshot(overdue_book) == before


def test_steps_repeat_on_their_cadence_and_change_with_the_stage(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    taken = []
    for offset in range(1, 14):
        day = OVERDUE_DAY + timedelta(days=offset)
        close_days(engine, day)
        taken.append(js(col.run(engine, day))["steps_taken"])
    # L0 and L2 stay in "day7", band medium (every 3 days): a step on 02-23, 02-26, 03-01, 03-04 for each
    assert taken == [0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0]
    case = case_of(engine, "L0")
    assert (case["stage"], case["risk_band"], case["days_past_due"]) == ("day7", "medium", 23)
    assert case["roll_ppm"] > 310_000  # later in the bucket: closer to rolling


def test_cases_close_when_the_loan_is_current_or_written_off(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    owed = case_of(engine, "L0")["amount_overdue_minor"]
    day = OVERDUE_DAY + timedelta(days=1)
    repay_loan(engine, "L0", day, Money(owed + 500_00, "CNY"), "cure-L0")
    write_off_loan(engine, "L2", day, "wo-L2")
    close_days(engine, day)
    report = js(col.run(engine, day))
    assert report["cases_closed"] == 2 and report["overdue_loans"] == 0
    closed = {c["loan_id"]: c for c in js(col.list_cases(engine, status="closed"))}
    assert closed["L0"]["close_reason"] == "current" and closed["L2"]["close_reason"] == "written_off"
    assert closed["L0"]["closed_on"] == day.isoformat()
    assert events(engine, col.CASE_CLOSED) == 2 and js(col.list_queue(engine)) == []


def test_a_kept_promise(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    case = case_of(engine, "L0")
    made = js(col.promise(engine, case["case_id"], amount_minor=case["amount_overdue_minor"],
                          promised_for=OVERDUE_DAY + timedelta(days=3), on=OVERDUE_DAY, by="ann", note="payday"))
    assert made["status"] == "pending" and made["follow_up_on"] == "2026-02-24"
    assert events(engine, col.PROMISE_MADE) == 1
    day = OVERDUE_DAY + timedelta(days=1)
    close_days(engine, day)
    held = js(col.run(engine, day))
    assert held["held"] == 1 and held["promises_kept"] == 0  # no dunning while the promise is pending
    pay_day = day + timedelta(days=1)
    repay_loan(engine, "L0", pay_day, Money(case["amount_overdue_minor"] + 100_00, "CNY"), "ptp-L0")
    close_days(engine, pay_day)
    report = js(col.run(engine, pay_day))
    assert report["promises_kept"] == 1 and report["cases_closed"] == 1
    detail = js(col.get_case(engine, case["case_id"]))
    (promise,) = detail["promises"]
    assert promise["status"] == "kept" and promise["paid_minor"] >= case["amount_overdue_minor"]
    assert [c["outcome"] for c in detail["contacts"]] == ["promised"]
    assert [h["kind"] for h in detail["history"]] == ["opened", "step", "promise", "promise_kept", "closed"]
    assert events(engine, col.PROMISE_KEPT) == 1


def test_a_broken_promise_escalates(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    case = case_of(engine, "L0")
    promised_for = OVERDUE_DAY + timedelta(days=2)
    col.promise(engine, case["case_id"], amount_minor=50_000, promised_for=promised_for, on=OVERDUE_DAY, by="ann")
    repay_loan(engine, "L0", OVERDUE_DAY + timedelta(days=1), Money(100_00, "CNY"), "part-L0")  # not enough
    outcomes = []
    for offset in range(1, 5):
        day = OVERDUE_DAY + timedelta(days=offset)
        close_days(engine, day)
        outcomes.append(js(col.run(engine, day))["promises_broken"])
    assert outcomes == [0, 0, 0, 1]  # broken the day after promised date + 1 day of grace
    after = case_of(engine, "L0")
    assert after["escalated"] is True and after["broken_promises"] == 1 and after["risk_band"] == "high"
    detail = js(col.get_case(engine, case["case_id"]))
    (promise,) = detail["promises"]
    assert promise["status"] == "broken" and promise["paid_minor"] == 100_00
    kinds = [h["kind"] for h in detail["history"]]
    assert kinds.count("promise_broken") == 1 and "escalated" in kinds
    assert any(m["step_id"] == "promise_broken" for m in detail["messages"])
    assert events(engine, col.PROMISE_BROKEN) == 1


def test_contact_log(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    case_id = case_of(engine, "L0")["case_id"]
    at = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
    col.log_contact(engine, case_id, outcome="no_answer", by="ann", at=at)
    col.log_contact(engine, case_id, outcome="reached", by="ann", note="will pay Friday")
    contacts = js(col.get_case(engine, case_id))["contacts"]
    assert [(c["outcome"], c["by"]) for c in contacts] == [("no_answer", "ann"), ("reached", "ann")]
    assert contacts[0]["contacted_at"] == at.isoformat() and contacts[1]["note"] == "will pay Friday"


BAD_WRITES: list[tuple[str, Callable[[Engine, str], object], str]] = [
    ("unknown case", lambda e, c: col.log_contact(e, "C-NOPE", outcome="reached", by="ann"), "case_id"),
    ("unknown outcome", lambda e, c: col.log_contact(e, c, outcome="shouted", by="ann"), "outcome"),
    ("promised without a promise", lambda e, c: col.log_contact(e, c, outcome="promised", by="ann"), "outcome"),
    ("nobody", lambda e, c: col.log_contact(e, c, outcome="reached", by="  "), "by"),
    ("a long note", lambda e, c: col.log_contact(e, c, outcome="reached", by="ann", note="x" * 2001), "note"),
    ("in the future", lambda e, c: col.log_contact(e, c, outcome="reached", by="ann",
                                                   at=datetime.now(UTC) + timedelta(hours=1)), "at"),
    ("a naive time", lambda e, c: col.log_contact(e, c, outcome="reached", by="ann", at=datetime(2026, 2, 20)), "at"),
    ("negative amount", lambda e, c: col.promise(e, c, amount_minor=-1, promised_for=OVERDUE_DAY, on=OVERDUE_DAY,
                                                 by="ann"), "amount_minor"),
    ("zero amount", lambda e, c: col.promise(e, c, amount_minor=0, promised_for=OVERDUE_DAY, on=OVERDUE_DAY,
                                             by="ann"), "amount_minor"),
    ("a flag for an amount", lambda e, c: col.promise(e, c, amount_minor=True, promised_for=OVERDUE_DAY,
                                                      on=OVERDUE_DAY, by="ann"), "amount_minor"),
    ("more than owed", lambda e, c: col.promise(e, c, amount_minor=10**12, promised_for=OVERDUE_DAY, on=OVERDUE_DAY,
                                                by="ann"), "amount_minor"),
    ("a date in the past", lambda e, c: col.promise(e, c, amount_minor=100, promised_for=OVERDUE_DAY - timedelta(1),
                                                    on=OVERDUE_DAY, by="ann"), "promised_for"),
    ("too far ahead", lambda e, c: col.promise(e, c, amount_minor=100, promised_for=OVERDUE_DAY + timedelta(15),
                                               on=OVERDUE_DAY, by="ann"), "promised_for"),
    ("before the case", lambda e, c: col.promise(e, c, amount_minor=100, promised_for=OVERDUE_DAY,
                                                 on=OVERDUE_DAY - timedelta(1), by="ann"), "on"),
    ("assign to nobody", lambda e, c: col.assign(e, c, "", by="lead"), "collector"),
    ("zero capacity", lambda e, c: col.assign(e, c, "ann", by="lead", capacity=0), "capacity"),
    ("assign to a stranger", lambda e, c: col.assign(e, c, "mallory", by="lead"), "collector"),
    ("auto-assign a stranger too", lambda e, c: col.auto_assign(e, ["ann", "mallory"], by="lead"), "collectors[1]"),
]


def collectors(engine: Engine, *names: str, role: str = staff.COLLECTIONS) -> None:
    """Staff users a case may go to (assignment checks for an enabled collections agent)."""
    for name in names:
        staff.create_user(engine, name, "correct horse battery", role)


def test_bad_writes_name_the_field_and_change_nothing(overdue_book: Engine) -> None:
    collectors(overdue_book, "ann")
    col.run(overdue_book, OVERDUE_DAY)
    case_id = case_of(overdue_book, "L0")["case_id"]
    before = snapshot(overdue_book)
    for name, write, field in BAD_WRITES:  # one book for all: each refusal must leave it as it was
        with pytest.raises(CollectionsError) as caught:
            write(overdue_book, case_id)
        assert caught.value.field == field, (name, caught.value)
        assert snapshot(overdue_book) == before, name


def test_one_pending_promise_at_a_time_and_none_on_a_closed_case(overdue_book: Engine) -> None:
    engine = overdue_book
    col.run(engine, OVERDUE_DAY)
    case_id = case_of(engine, "L0")["case_id"]
    col.promise(engine, case_id, amount_minor=100, promised_for=OVERDUE_DAY, on=OVERDUE_DAY, by="ann")
    before = snapshot(engine)
    with pytest.raises(CollectionsError, match="pending") as caught:
        col.promise(engine, case_id, amount_minor=100, promised_for=OVERDUE_DAY, on=OVERDUE_DAY, by="ann")
    assert caught.value.field == "case_id" and snapshot(engine) == before
    write_off_loan(engine, "L0", OVERDUE_DAY + timedelta(days=1), "wo-L0")
    close_days(engine, OVERDUE_DAY + timedelta(days=1))
    col.run(engine, OVERDUE_DAY + timedelta(days=1))
    detail = js(col.get_case(engine, case_id))
    assert detail["status"] == "closed" and detail["promises"][0]["status"] == "cancelled"
    with pytest.raises(CollectionsError, match="closed") as closed:
        col.log_contact(engine, case_id, outcome="reached", by="ann")
    assert closed.value.field == "case_id"


def test_cases_go_only_to_enabled_collections_agents(engine: Engine) -> None:
    book(engine, {"A": 10_000})
    close_days(engine, OVERDUE_DAY)
    col.run(engine, OVERDUE_DAY)
    case_id = js(col.list_queue(engine))[0]["case_id"]
    collectors(engine, "ann", "gone")
    collectors(engine, "olga", role=staff.CREDIT)
    staff.disable_user(engine, "gone", by=None)
    before = snapshot(engine)
    for name in ("nobody", "olga", "gone"):  # unknown, another role, disabled
        with pytest.raises(CollectionsError, match="not an enabled collections agent") as caught:
            col.assign(engine, case_id, name, by="lead")
        assert caught.value.field == "collector", name
    with pytest.raises(CollectionsError) as auto:
        col.auto_assign(engine, ["ann", "olga"], by="lead")
    assert auto.value.field == "collectors[1]"
    assert snapshot(engine) == before
    assert js(col.assign(engine, case_id, "ann", by="lead"))["collector"] == "ann"


def test_queues_per_collector_with_capacity(engine: Engine) -> None:
    collectors(engine, "ann", "bob")
    book(engine, {"A": 10_000, "B": 20_000, "C": 30_000, "D": 40_000})
    close_days(engine, OVERDUE_DAY)
    col.run(engine, OVERDUE_DAY)
    by_loan = {c["loan_id"]: c["case_id"] for c in js(col.list_queue(engine))}
    assigned = js(col.assign(engine, by_loan["A"], "ann", by="lead", capacity=1))
    assert assigned["collector"] == "ann" and assigned["assigned_at"]
    before = snapshot(engine)
    with pytest.raises(CollectionsError, match="capacity 1") as caught:
        col.assign(engine, by_loan["B"], "ann", by="lead", capacity=1)
    assert caught.value.field == "collector" and snapshot(engine) == before
    plan = js(col.auto_assign(engine, ["ann", "bob"], by="lead", capacity=2))
    assert plan == {"assigned": 3, "by_collector": {"ann": 1, "bob": 2}, "unassigned_left": 0}
    # the highest priorities went first: bob (empty) took D, ann C, bob B
    assert [c["loan_id"] for c in js(col.list_queue(engine, collector="bob"))] == ["D", "B"]
    assert [c["loan_id"] for c in js(col.list_queue(engine, collector="ann"))] == ["C", "A"]
    assert js(col.list_queue(engine, unassigned=True)) == []
    with pytest.raises(CollectionsError) as empty:
        col.auto_assign(engine, [], by="lead")
    assert empty.value.field == "collectors"


def _decision(application_id: str, pd: str, now: datetime) -> dict[str, Any]:
    text = dict.fromkeys(("arm", "outcome", "grade", "rate_annual", "policy_id", "policy_version", "policy_hash",
                          "model_version", "model_hash", "input_hash", "applicant_id", "household_key", "segment"),
                         "x")
    return {**text, "application_id": application_id, "arm": "champion", "acting": True, "outcome": "approve",
            "pd": pd, "limit_minor": 0, "reasons": [], "flags": [], "fingerprints": {}, "input": {}, "decision": {},
            "exposure_minor": 0, "created_at": now}


def test_alerts_and_origination_pd_raise_the_roll_probability(engine: Engine) -> None:
    from lendstack.origination import parse_application
    from lendstack.sim import generate_applications, to_application_json
    from lendstack.store.origination_repo import ApplicationRepository

    book(engine, {"P0": 12_000, "P1": 12_000, "L-RISKY": 12_000, "L-SAFE": 12_000})
    now = datetime.now(UTC)
    rows = generate_applications(2, seed=9).iter_rows(named=True)
    with UnitOfWork(engine) as uow:
        uow.connection.execute(insert(ew_alerts).values(
            alert_id="ew_test", loan_id="P1", indicator="revenue_drop", severity="high", as_of=ON, evidence={},
            actions=["call"], status="open", assignee="", history=[], created_at=now, updated_at=now))
        # loans booked from an application lead back to it (here by the rule before migration 0014,
        # "L-<application id>"); the acting decision holds the PD
        for application_id, row in zip(("RISKY", "SAFE"), rows, strict=True):
            document = {**to_application_json(row), "application_id": application_id}
            ApplicationRepository(uow.connection).add(parse_application(document, today=date(2030, 1, 1)))
        uow.connection.execute(insert(decisions), [_decision("RISKY", "0.30", now), _decision("SAFE", "0.01", now)])
    close_days(engine, OVERDUE_DAY)
    col.run(engine, OVERDUE_DAY)
    roll = {loan_id: case_of(engine, loan_id)["roll_ppm"] for loan_id in ("P0", "P1", "L-RISKY", "L-SAFE")}
    assert roll["P1"] > roll["P0"]  # an open high early-warning alert
    assert roll["L-RISKY"] > roll["P0"] > roll["L-SAFE"]  # PD at origination against the 5 % reference
    queue = [c["loan_id"] for c in js(col.list_queue(engine))]
    assert queue.index("L-RISKY") < queue.index("P0") < queue.index("L-SAFE")  # same amounts: P(roll) decides


class RecordingChannel:
    """A gateway stand-in: proves messages go through the Channel protocol."""

    def __init__(self, name: str, sent: list[Message]) -> None:
        self.name, self.sent = name, sent

    def send(self, message: Message) -> Receipt:
        self.sent.append(message)
        return Receipt(self.name, f"gw-{len(self.sent)}", "sent", datetime.now(UTC))


def test_other_channels_plug_in(overdue_book: Engine) -> None:
    sent: list[Message] = []
    report = js(col.run(overdue_book, OVERDUE_DAY,
                        channels=lambda uow: {n: RecordingChannel(n, sent) for n in ("sms", "email", "push")}))
    assert len(sent) == report["messages_sent"] > 0
    assert events(overdue_book, col.MESSAGE_SENT) == 0  # that gateway does not use the outbox
    stored = js(col.list_messages(overdue_book))
    assert {m["receipt"]["reference"] for m in stored} == {f"gw-{k}" for k in range(1, len(sent) + 1)}


def test_messages_go_out_in_the_borrowers_language(engine: Engine) -> None:
    """An applicant who stated a language is written to in it; the others in the strategy's default."""
    from lendstack.origination import parse_application
    from lendstack.services.naming import loan_id_for
    from lendstack.sim import generate_applications, to_application_json
    from lendstack.store.origination_repo import ApplicationRepository

    documents = [to_application_json(row) for row in generate_applications(2, seed=9).iter_rows(named=True)]
    documents[0]["applicant"]["language"] = "en"
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        for document in documents:  # the second states nothing
            repo.add(parse_application(document, today=date(2030, 1, 1)))
    english, unstated = (loan_id_for(d["application_id"], "") for d in documents)  # booked under the old rule
    book(engine, {english: 12_000, unstated: 12_000, "L9": 12_000})  # L9: booked without an application
    close_days(engine, OVERDUE_DAY)
    col.run(engine, OVERDUE_DAY)
    with engine.connect() as conn:
        sent = {(r.loan_id, r.language) for r in conn.execute(select(collection_messages))}
    default = col.load_strategy().doc.default_language
    assert default == "zh-CN" and {loan for loan, _ in sent} == {english, unstated, "L9"}
    assert sent == {(english, "en"), (unstated, default), ("L9", default)}
