"""CollectionsRepository on SQLite and PostgreSQL: records carry their tables' columns in order (so
`to_json()` is the document the shells always printed), every write reads back as written, bulk
updates touch only their columns, closing a case cancels its pending promises, and IN lists are
chunked without changing an answer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table

from lendstack.collections import repository
from lendstack.collections.planning import (
    CaseClosing,
    CaseEscalation,
    CaseFigures,
    CaseUpdate,
    PromiseEvaluation,
)
from lendstack.collections.records import (
    Case,
    Contact,
    HistoryEntry,
    InstallmentAmounts,
    LoanBalances,
    PromiseToPay,
    SentMessage,
)
from lendstack.collections.repository import CollectionsRepository
from lendstack.money import Money
from lendstack.services import staff
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.store.tables import installments, loans
from lendstack.store.tables_collections import (
    collection_cases,
    collection_contacts,
    collection_history,
    collection_messages,
    collection_promises,
)

ON = date(2026, 1, 10)
AS_OF = date(2026, 2, 20)
NOW = datetime(2026, 2, 20, 18, 0, tzinfo=UTC)
LOANS = ("L0", "L1", "L2")


@pytest.mark.parametrize(("record", "table"), [
    (Case, collection_cases), (Contact, collection_contacts), (PromiseToPay, collection_promises),
    (SentMessage, collection_messages), (HistoryEntry, collection_history)])
def test_records_carry_their_tables_columns_in_order(record: type, table: Table) -> None:
    assert [f.name for f in dataclasses.fields(record)] == [c.name for c in table.columns]


def test_the_book_slices_name_real_columns() -> None:
    assert {f.name for f in dataclasses.fields(LoanBalances)} <= {c.name for c in loans.columns}
    assert {f.name for f in dataclasses.fields(InstallmentAmounts)} <= {c.name for c in installments.columns}


def _case(loan_id: str, **changes: Any) -> Case:
    base = Case(case_id=f"C-{loan_id}-20260220", loan_id=loan_id, status="open", opened_on=AS_OF, closed_on=None,
                close_reason="", as_of=AS_OF, currency="CNY", days_past_due=10, bucket="M1", stage="day7",
                risk_band="medium", roll_ppm=320_000, amount_overdue_minor=1_100_00, exposure_minor=12_000_00,
                priority_minor=35_200, escalated=False, broken_promises=0, collector="", assigned_at=None,
                last_stage="day7", last_step_on=AS_OF, next_action="call", strategy="default@2026.1",
                created_at=NOW, updated_at=NOW)
    return dataclasses.replace(base, **changes)


def _promise(case: Case, promise_id: str) -> PromiseToPay:
    return PromiseToPay(promise_id=promise_id, case_id=case.case_id, loan_id=case.loan_id, amount_minor=500_00,
                        currency="CNY", made_on=AS_OF, promised_for=AS_OF + timedelta(days=2),
                        follow_up_on=AS_OF + timedelta(days=3), status="pending", paid_minor=0, evaluated_on=None,
                        by="ann", created_at=NOW)


@pytest.fixture
def book(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(repository, "IN_CHUNK", 2)  # several IN chunks per read
    for loan_id in LOANS:
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12,
                  on=ON, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    return engine


def test_the_book_as_the_run_reads_it(book: Engine) -> None:
    with book.connect() as conn:
        repo = CollectionsRepository(conn)
        loan = repo.loan_balances("L1")
        assert (loan.loan_id, loan.currency, loan.principal_disbursed_minor) == ("L1", "CNY", 12_000_00)
        assert repo.overdue_loans() == []  # end of day has not run: nothing is overdue
        assert repo.loan_statuses(list(LOANS)) == dict.fromkeys(LOANS, "active")
        schedules = repo.installments(["L0", "L2", "L-NONE"])
        assert set(schedules) == {"L0", "L2"} and [i.seq for i in schedules["L0"]] == list(range(1, 13))
        first_due = schedules["L0"][0].due_date
        due = repo.installments_due_on([first_due])
        assert [(i.loan_id, i.seq, currency) for i, currency in due] == [(k, 1, "CNY") for k in LOANS]
        assert repo.cash_received(list(LOANS), ON) == {}  # disbursed, nothing repaid
        assert repo.open_alert_counts(list(LOANS)) == {} and repo.origination_pd(list(LOANS)) == {}
        assert repo.borrower_languages() == {}  # booked by hand: no applicant stated a language


def test_cases_read_back_as_written_and_update_only_their_columns(book: Engine) -> None:
    cases = [_case(k) for k in LOANS]
    with book.begin() as conn:
        repo = CollectionsRepository(conn)
        repo.insert_cases(cases)
        repo.insert_cases([])
    with book.begin() as conn:
        repo = CollectionsRepository(conn)
        assert repo.case(cases[0].case_id) == cases[0] == repo.case(cases[0].case_id, for_update=True)
        assert repo.case("C-NOPE") is None
        assert sorted(repo.open_cases(), key=lambda c: c.case_id) == cases
        assert repo.open_cases_of(["L0", "L2"]) == {"L0": cases[0], "L2": cases[2]}
        figures = CaseFigures(AS_OF + timedelta(days=1), "CNY", 11, "M1", "day7", "high", 600_000, 1_200_00,
                              12_100_00, 72_000, "default@2026.1", NOW + timedelta(days=1))
        repo.update_cases([CaseUpdate(cases[0].case_id, figures),
                           CaseUpdate(cases[1].case_id, figures, next_action="follow_up"),
                           CaseUpdate(cases[2].case_id, figures, next_action="escalate", last_stage="day7",
                                      last_step_on=AS_OF + timedelta(days=1))])
        repo.assign(cases[1].case_id, "ann", NOW)
        repo.set_next_action(cases[2].case_id, "field_visit", NOW)
    with book.connect() as conn:
        repo = CollectionsRepository(conn)
        got = {c.loan_id: c for c in repo.cases(status="open", loan_id=None, limit=10)}
        assert got["L0"].risk_band == "high" and got["L0"].next_action == "call"  # untouched column kept
        assert got["L1"].next_action == "follow_up" and got["L1"].collector == "ann" and got["L1"].assigned_at
        assert got["L2"].next_action == "field_visit" and got["L2"].last_step_on == AS_OF + timedelta(days=1)
        assert all(c.created_at == NOW for c in got.values())
        assert repo.open_load(["ann", "bob"]) == {"ann": 1}
        assert [c.loan_id for c in repo.queue(collector="ann")] == ["L1"]
        assert sorted(c.loan_id for c in repo.queue(unassigned=True)) == ["L0", "L2"]
        assert sorted(c.loan_id for c in repo.unassigned_open_cases()) == ["L0", "L2"]
        assert [c.loan_id for c in repo.cases(status=None, loan_id="L2", limit=10)] == ["L2"]
        assert len(repo.cases(status=None, loan_id=None, limit=2)) == 2


def test_promises_escalation_and_closing(book: Engine) -> None:
    cases = [_case(k) for k in LOANS]
    with book.begin() as conn:
        repo = CollectionsRepository(conn)
        repo.insert_cases(cases)
        for k, case in enumerate(cases):
            repo.add_promise(_promise(case, f"P-{k}"))
    with book.begin() as conn:
        repo = CollectionsRepository(conn)
        assert [p.promise_id for p in repo.pending_promises([c.case_id for c in cases])] == ["P-0", "P-1", "P-2"]
        assert repo.pending_promise_of(cases[1].case_id) == _promise(cases[1], "P-1")
        assert repo.cases_holding(["L0", "L1"]) == {cases[0].case_id, cases[1].case_id}
        repo.record_evaluations([PromiseEvaluation("P-0", "kept", 500_00, AS_OF),
                                 PromiseEvaluation("P-1", "broken", 10_00, AS_OF)])
        repo.escalate([CaseEscalation(cases[1].case_id, 1, NOW)])
        repo.close_cases([CaseClosing(cases[2].case_id, "written_off", AS_OF, NOW)])
        repo.close_cases([])
    with book.connect() as conn:
        repo = CollectionsRepository(conn)
        assert [(p.status, p.paid_minor, p.evaluated_on) for p in repo.promises(cases[0].case_id)] == \
            [("kept", 500_00, AS_OF)]
        escalated = repo.case(cases[1].case_id)
        assert escalated is not None and escalated.escalated and escalated.broken_promises == 1
        assert escalated.next_action == "escalate"
        closed = repo.case(cases[2].case_id)
        assert closed is not None and (closed.status, closed.closed_on, closed.close_reason, closed.next_action) == \
            ("closed", AS_OF, "written_off", "")
        assert [(p.status, p.evaluated_on) for p in repo.promises(cases[2].case_id)] == [("cancelled", AS_OF)]
        assert repo.pending_promises([c.case_id for c in cases]) == [] and repo.cases_holding(list(LOANS)) == set()


def test_contacts_history_and_messages(book: Engine) -> None:
    case = _case("L0")
    messages = [SentMessage(f"msg:L0:day7.medium:2026-02-20:{channel}", "L0", case.case_id, AS_OF, "day7.medium",
                            "call", channel, "zh-CN", "overdue", {"en": "hello", "zh-CN": "你好"},
                            {"channel": channel, "reference": "r", "status": "queued", "at": NOW.isoformat()}, NOW)
                for channel in ("sms", "push", "email")]
    with book.begin() as conn:
        repo = CollectionsRepository(conn)
        repo.insert_cases([case])
        repo.add_contact(Contact(None, case.case_id, "L0", "reached", "soon", "ann", NOW - timedelta(hours=1), NOW))
        repo.add_history([HistoryEntry(None, case.case_id, AS_OF, "opened", "system", {"bucket": "M1"}, NOW),
                          HistoryEntry(None, case.case_id, AS_OF, "contact", "ann", {"outcome": "reached"}, NOW)])
        repo.add_history([])
        repo.add_messages(messages)
        repo.add_messages([])
    with book.connect() as conn:
        repo = CollectionsRepository(conn)
        (contact,) = repo.contacts(case.case_id)
        assert contact.id is not None and contact.note == "soon" and contact.contacted_at == NOW - timedelta(hours=1)
        assert list(contact.to_json()) == ["id", "case_id", "loan_id", "outcome", "note", "by", "contacted_at",
                                           "recorded_at"]
        assert "id" not in dataclasses.replace(contact, id=None).to_json()
        history = repo.history(case.case_id)
        assert [h.kind for h in history] == ["opened", "contact"] and history[1].detail == {"outcome": "reached"}
        ids = [m.message_id for m in messages]
        assert repo.stored_message_ids([*ids, "msg:none"]) == set(ids)
        assert sorted(repo.messages_of_case(case.case_id), key=lambda m: m.message_id) == \
            sorted(messages, key=lambda m: m.message_id)
        assert [m.channel for m in repo.messages(loan_id="L0", as_of=AS_OF, limit=2)] == ["email", "push"]
        assert repo.messages(loan_id="L1", as_of=None, limit=10) == []


def test_collector_accounts(book: Engine) -> None:
    staff.create_user(book, "ann", "correct horse battery", staff.COLLECTIONS)
    staff.create_user(book, "olga", "correct horse battery", staff.CREDIT)
    staff.disable_user(book, "olga", by=None)
    with book.connect() as conn:
        accounts = CollectionsRepository(conn).collector_accounts(["ann", "olga", "nobody"])
    assert set(accounts) == {"ann", "olga"}
    assert (accounts["ann"].role, accounts["ann"].enabled) == (staff.COLLECTIONS, True)
    assert (accounts["olga"].role, accounts["olga"].enabled) == (staff.CREDIT, False)
