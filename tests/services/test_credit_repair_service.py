"""Credit repair through the service layer on both backends: eligibility boundaries against a real
repayment history, grants recorded and counted for scoring, refusals recorded with reasons and
marking nothing, bad input writing nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.monitoring.credit_repair import CreditRepairError, ProgramConfig
from lendstack.schedule.dates import add_months
from lendstack.services.credit_repair import (
    application,
    apply_for_repair,
    borrower_view,
    check_eligibility,
    list_applications,
    unrepaired_overdue_counts,
)
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, repay_loan
from lendstack.store import IdempotencyConflict
from lendstack.store.tables import idempotency_keys, installments, outbox
from lendstack.store.tables_repair import credit_repair_applications, credit_repair_grants

# A loan with a real repayment history: booked, disbursed, each installment paid on its due date
# or LATE_DAYS late through the services (end of day closes the days in between, as money commands
# are dated on the business date), then end of day to the closing date.
START = date(2025, 1, 10)
LATE_DAYS = 15
PENALTY_BUFFER_MINOR = 2_000  # covers the penalty of a late installment; the rest waits in suspense


def due_date(seq: int) -> date:
    return add_months(START, seq)


def _due_minor(engine: Engine, loan_id: str, seq: int) -> int:
    i = installments.c
    with engine.connect() as conn:
        row = conn.execute(select(i.principal_minor + i.interest_minor + i.fee_minor)
                           .where(i.loan_id == loan_id, i.seq == seq)).scalar_one()
    return int(row)


def loan_with_history(engine: Engine, loan_id: str, paid: int, late: frozenset[int] = frozenset(),
                      unpaid_after: bool = False, term: int = 24) -> date:
    """Pay installments 1..`paid` (those in `late` LATE_DAYS late); returns the day the book is
    closed through: the last payment day, or with `unpaid_after` 20 days past the next due date."""
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(24_000_00, "CNY"), term=term,
              on=START, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, START, f"disb-{loan_id}")
    day = START
    for seq in range(1, paid + 1):
        pay_on = due_date(seq) + timedelta(days=LATE_DAYS if seq in late else 0)
        advance_to(engine, pay_on)
        amount = _due_minor(engine, loan_id, seq) + (PENALTY_BUFFER_MINOR if seq in late else 0)
        repay_loan(engine, loan_id, pay_on, Money(amount, "CNY"), f"pay-{loan_id}-{seq}")
        day = pay_on
    if unpaid_after:
        day = due_date(paid + 1) + timedelta(days=20)
    run_eod(engine, day, hooks=False)  # close the last payment day (or the unpaid stretch after it)
    return day


TABLES = (credit_repair_applications, credit_repair_grants, outbox, idempotency_keys, installments)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in TABLES}


def codes(result: dict[str, object]) -> list[str]:
    return [r["code"] for r in result["reasons"]]  # type: ignore[attr-defined,index]


def test_eleven_months_refused_twelve_granted_then_the_limit(engine: Engine) -> None:
    closed = loan_with_history(engine, "R1", paid=13, late=frozenset({1}))
    assert closed == due_date(13)
    eleven = check_eligibility(engine, on=due_date(12), loan_id="R1").to_json()
    assert not eleven["eligible"] and eleven["months_on_time"] == 11
    assert codes(eleven) == ["not_enough_on_time_months"]
    assert "需满12个月" in eleven["reasons"][0]["zh"]
    twelve = check_eligibility(engine, on=due_date(13), loan_id="R1").to_json()
    assert twelve["eligible"] and twelve["months_on_time"] == 12 and twelve["record"]["record_id"] == "R1#1"
    assert check_eligibility(engine, on=due_date(13), loan_id="R1", program=ProgramConfig(months_on_time=13)).to_json()[
        "eligible"] is False

    before = counts(engine)
    refused = apply_for_repair(engine, on=due_date(12), key="cr-1", loan_id="R1").to_json()
    assert refused["status"] == "refused" and refused["grant"] is None and codes(refused) == [
        "not_enough_on_time_months"]
    after = counts(engine)
    assert after["repair_grants"] == before["repair_grants"] and after["repair_applications"] == 1
    assert unrepaired_overdue_counts(engine) == {"loan:R1": 1}

    granted = apply_for_repair(engine, on=due_date(13), key="cr-2", loan_id="R1").to_json()
    assert granted["status"] == "granted" and granted["grant"]["record_id"] == "R1#1"
    assert granted["grant"]["days_late"] == 15
    assert granted["grant"]["paid_on"] == (due_date(1) + timedelta(15)).isoformat()
    assert unrepaired_overdue_counts(engine) == {"loan:R1": 0}
    assert counts(engine)["installments"] == before["installments"]  # the original record is kept

    again = apply_for_repair(engine, on=due_date(13), key="cr-3", loan_id="R1").to_json()
    assert again["status"] == "refused" and codes(again) == ["max_records_granted", "no_eligible_record"]
    assert counts(engine)["repair_grants"] == 1

    view = borrower_view(engine, loan_id="R1").to_json()
    assert [r["repaired"] for r in view["records"]] == [True] and view["unrepaired_overdue_records"] == 0
    assert "已修复" in view["records"][0]["text"]["zh"] and "repaired" in view["records"][0]["text"]["en"]
    assert [a["status"] for a in view["applications"]] == ["refused", "granted", "refused"]
    assert application(engine, granted["application_id"]).to_json() == granted
    assert {a.application_id for a in list_applications(engine, status="granted")} == {granted["application_id"]}


def test_retry_and_bad_input_write_nothing(engine: Engine) -> None:
    loan_with_history(engine, "R2", paid=13, late=frozenset({1}))
    first = apply_for_repair(engine, on=due_date(13), key="k1", loan_id="R2").to_json()
    before = counts(engine)
    assert apply_for_repair(engine, on=due_date(13), key="k1", loan_id="R2").to_json() == first
    assert counts(engine) == before
    bad: list[tuple[dict[str, object], str]] = [
        ({"on": due_date(13), "key": "k1", "loan_id": "R2", "record": "R2#2"}, "idempotency_key"),
        ({"on": due_date(13), "key": "k2", "loan_id": "NOPE"}, "loan_id"),
        ({"on": due_date(13), "key": "k2"}, "loan_id"),
        ({"on": due_date(13), "key": "k2", "loan_id": "R2", "applicant_id": "A1"}, "loan_id"),
        ({"on": due_date(13), "key": "k2", "applicant_id": "A-none"}, "applicant_id"),
        ({"on": due_date(13) + timedelta(days=1), "key": "k2", "loan_id": "R2"}, "on"),
        ({"on": due_date(13), "key": "", "loan_id": "R2"}, "key"),
    ]
    for kwargs, field in bad:
        with pytest.raises((CreditRepairError, IdempotencyConflict)) as err:
            apply_for_repair(engine, **kwargs).to_json()  # type: ignore[arg-type]
        assert err.value.field == field, kwargs
        assert counts(engine) == before


def test_an_overdue_installment_now_or_in_the_window_refuses(engine: Engine) -> None:
    closed = loan_with_history(engine, "R3", paid=13, late=frozenset({1, 6}), unpaid_after=True)
    result = check_eligibility(engine, on=closed, loan_id="R3").to_json()
    assert codes(result) == ["current_overdue", "not_enough_on_time_months"]
    assert result["months_on_time"] == 0  # the open installment 14 is the last overdue record
    in_window = check_eligibility(engine, on=due_date(13), loan_id="R3").to_json()
    assert in_window["months_on_time"] == 7 and codes(in_window) == ["not_enough_on_time_months"]
    asked = check_eligibility(engine, on=closed, loan_id="R3", record="R3#14").to_json()
    assert "record_not_eligible" in codes(asked) and "尚未还清" in asked["reasons"][-1]["zh"]
    before = counts(engine)
    refused = apply_for_repair(engine, on=closed, key="k", loan_id="R3").to_json()
    assert refused["status"] == "refused" and counts(engine)["repair_grants"] == before["repair_grants"] == 0
    assert unrepaired_overdue_counts(engine) == {"loan:R3": 3}
