"""Collections' pure rules (collections/planning.py), without a database: amount-due arithmetic, one
overdue loan's plan, the case state machine (open, update, hold, escalate, close), promise evaluation,
and the checks a collector's command passes, with the kind of error each refusal carries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendstack.collections.domain import CollectionsError, RollInputs, Strategy, load_strategy, roll_ppm
from lendstack.collections.planning import (
    PAID_WINDOW_DAYS,
    CaseNotFound,
    CaseUpdate,
    CollectionsConflict,
    amount_overdue_minor,
    broken_promise_message,
    case_id_for,
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
    paid_between,
    plan_case,
    principal_outstanding_minor,
    receivable_minor,
    roll_inputs,
    unpaid_minor,
)
from lendstack.collections.records import Case, CollectorAccount, InstallmentAmounts, LoanBalances, PromiseToPay
from lendstack.errors import ErrorKind

AS_OF = date(2026, 2, 20)
NOW = datetime(2026, 2, 20, 18, 0, tzinfo=UTC)


@cache
def strategy() -> Strategy:
    return load_strategy()


def balances(**changes: object) -> LoanBalances:
    zero = {f.name: 0 for f in dataclasses.fields(LoanBalances) if f.name.endswith("_minor")}
    base = LoanBalances(loan_id="L0", status="overdue", currency="CNY", bucket="M1", days_past_due=10, **zero)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def installment(seq: int, due: date, amount: int = 1_000_00, paid: int = 0) -> InstallmentAmounts:
    """An installment of `amount` principal (plus 10% interest), of which `paid` principal is paid."""
    return InstallmentAmounts("L0", seq, due, amount, amount // 10, 0, paid, 0, 0)


def case(**changes: object) -> Case:
    base = Case(case_id="C-L0-20260210", loan_id="L0", status="open", opened_on=date(2026, 2, 10), closed_on=None,
                close_reason="", as_of=AS_OF - timedelta(days=1), currency="CNY", days_past_due=9, bucket="M1",
                stage="day7", risk_band="medium", roll_ppm=320_000, amount_overdue_minor=1_100_00,
                exposure_minor=12_000_00, priority_minor=35_200, escalated=False, broken_promises=0, collector="",
                assigned_at=None, last_stage="day7", last_step_on=AS_OF - timedelta(days=1), next_action="call",
                strategy="default@2026.1", created_at=NOW, updated_at=NOW)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def promise(**changes: object) -> PromiseToPay:
    base = PromiseToPay(promise_id="P-1", case_id="C-L0-20260210", loan_id="L0", amount_minor=500_00,
                        currency="CNY", made_on=AS_OF - timedelta(days=4), promised_for=AS_OF - timedelta(days=2),
                        follow_up_on=AS_OF - timedelta(days=1), status="pending", paid_minor=0, evaluated_on=None,
                        by="ann", created_at=NOW)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- amount-due arithmetic


def test_exposure_is_principal_outstanding_plus_every_receivable() -> None:
    loan = balances(principal_disbursed_minor=10_000_00, principal_capitalized_minor=50_00,
                    principal_repaid_minor=2_000_00, principal_written_off_minor=100_00,
                    interest_accrued_minor=300_00, interest_paid_minor=100_00, interest_written_off_minor=10_00,
                    interest_capitalized_minor=50_00, fee_charged_minor=40_00, fee_paid_minor=15_00,
                    penalty_accrued_minor=25_00, penalty_paid_minor=5_00, penalty_capitalized_minor=1_00)
    assert principal_outstanding_minor(loan) == 7_950_00
    assert receivable_minor(loan, "interest") == 140_00
    assert receivable_minor(loan, "fee") == 25_00
    assert receivable_minor(loan, "penalty") == 19_00
    assert exposure_minor(loan) == 7_950_00 + 140_00 + 25_00 + 19_00


@given(st.lists(st.integers(0, 10**9), min_size=16, max_size=16))
def test_exposure_is_linear_in_the_counters(values: list[int]) -> None:
    """Raising a counter that adds (disbursed, accrued, charged) raises exposure by as much; one that
    settles (repaid, paid, written off; capitalized receivables) lowers it by as much."""
    names = [f.name for f in dataclasses.fields(LoanBalances) if f.name.endswith("_minor")]
    loan = balances(**dict(zip(names, values, strict=True)))
    for name in names:
        bumped = dataclasses.replace(loan, **{name: getattr(loan, name) + 7})
        adds = name.endswith(("disbursed_minor", "accrued_minor", "charged_minor")) or name == \
            "principal_capitalized_minor"
        assert exposure_minor(bumped) - exposure_minor(loan) == (7 if adds else -7), name


def test_amount_overdue_is_unpaid_installments_due_before_today_plus_penalty() -> None:
    schedule = [installment(1, date(2026, 1, 10), paid=1_000_00), installment(2, date(2026, 2, 10), paid=300_00),
                installment(3, AS_OF), installment(4, date(2026, 3, 10))]
    assert [unpaid_minor(i) for i in schedule] == [100_00, 800_00, 1_100_00, 1_100_00]
    due = overdue_installments(schedule, AS_OF)  # due today is not overdue yet
    assert [i.seq for i in due] == [1, 2]
    loan = balances(penalty_accrued_minor=12_00, penalty_paid_minor=2_00)
    assert amount_overdue_minor(loan, due) == 100_00 + 800_00 + 10_00
    assert amount_overdue_minor(loan, []) == 10_00


def test_paid_between_includes_both_ends() -> None:
    cash = [(date(2026, 2, 1), 5), (date(2026, 2, 2), 7), (date(2026, 2, 3), 11)]
    assert paid_between(cash, date(2026, 2, 1), date(2026, 2, 2)) == 12
    assert paid_between(cash, date(2026, 2, 3), date(2026, 2, 3)) == 11
    assert paid_between(cash, date(2026, 2, 4), date(2026, 3, 1)) == 0


def test_roll_inputs_read_the_preloaded_values() -> None:
    schedule = [installment(1, date(2025, 12, 10)), installment(2, date(2026, 1, 10), paid=1_000_00),
                installment(3, date(2026, 2, 10))]
    old, recent = AS_OF - timedelta(days=PAID_WINDOW_DAYS + 1), AS_OF - timedelta(days=PAID_WINDOW_DAYS)
    inputs = roll_inputs(balances(), schedule, [(old, 99)], Decimal("0.1"), 2, case(broken_promises=2), AS_OF)
    assert inputs == RollInputs("M1", 10, 3, 0, Decimal("0.1"), 2, 2)  # 3 missed: installment 2 owes interest
    assert roll_inputs(balances(), schedule, [(recent, 5)], None, 0, None, AS_OF).paid_last_30_minor == 5


# --------------------------------------------------------------------------- one overdue loan's plan


def _plan(stored: Case | None, held: set[str] | None = None, **loan: object):  # type: ignore[no-untyped-def]
    b = balances(principal_disbursed_minor=12_000_00, **loan)
    inputs = roll_inputs(b, [], [], None, 0, stored, AS_OF)
    return plan_case(strategy(), AS_OF, NOW, b, stored, inputs, 1_100_00, date(2026, 2, 10), held or set())


def test_a_new_case_takes_its_first_step_and_opens_with_it() -> None:
    plan = _plan(None)
    assert plan.case_id == case_id_for("L0", AS_OF) == "C-L0-20260220" and plan.step_due and not plan.held
    assert plan.roll == roll_ppm(RollInputs("M1", 10, 0, 0, None, 0, 0), strategy().doc.roll_model)
    assert (plan.step.stage, plan.figures.risk_band) == ("day7", strategy().band_of(plan.roll))
    assert plan.figures.priority_minor == 1_100_00 * plan.roll // 1_000_000
    assert plan.figures.exposure_minor == 12_000_00
    update = case_update(plan)
    opened = new_case("L0", update, NOW)
    assert (opened.status, opened.opened_on, opened.collector, opened.escalated) == ("open", AS_OF, "", False)
    assert (opened.last_stage, opened.last_step_on, opened.next_action) == ("day7", AS_OF, plan.step.action)
    assert opened.created_at == opened.updated_at == NOW
    assert plan.message.amount_due_minor == 1_100_00 and plan.message.due_date == date(2026, 2, 10)


def test_an_escalated_case_is_high_risk_whatever_the_model_says() -> None:
    plan = _plan(case(escalated=True, broken_promises=1))
    assert plan.figures.risk_band == "high" and plan.step.band == "high"


def test_a_pending_promise_holds_the_dunning() -> None:
    stored = case(last_step_on=AS_OF - timedelta(days=30))
    plan = _plan(stored, held={stored.case_id})
    assert plan.held and not plan.step_due
    update = case_update(plan)
    assert update.next_action == "follow_up" and update.last_stage is None and update.last_step_on is None


def test_a_step_repeats_on_its_cadence_only() -> None:
    yesterday = case(last_step_on=AS_OF - timedelta(days=1))
    assert not _plan(yesterday).step_due
    assert case_update(_plan(yesterday)).columns().keys() == CaseUpdate("x", _plan(yesterday).figures).columns().keys()
    assert _plan(case(last_step_on=AS_OF - timedelta(days=30))).step_due
    assert _plan(case(last_stage="day1")).step_due  # a new stage: its step fires at once


def test_an_update_that_changes_nothing_is_not_written() -> None:
    stored = case(last_step_on=AS_OF - timedelta(days=1))
    update = case_update(_plan(stored))
    applied = dataclasses.replace(stored, **update.columns())
    assert update.changes(stored) and not update.changes(applied)
    assert not update.changes(dataclasses.replace(applied, updated_at=NOW + timedelta(hours=1)))


def test_a_reminder_step_leaves_no_next_action() -> None:
    plan = _plan(None, days_past_due=2)  # stage day1: low and medium risk get a reminder
    plan = dataclasses.replace(plan, step=strategy().step_for(2, "low"))
    assert plan.step.action == "reminder" and case_update(plan).next_action == ""


# --------------------------------------------------------------------------- closing, escalating, promises


def test_close_reasons() -> None:
    assert [close_reason(s) for s in ("closed", "written_off", "active", "overdue")] == \
        ["closed", "written_off", "current", "current"]


def test_a_broken_promise_escalates_and_sends_the_escalation_message() -> None:
    stored = case(broken_promises=1)
    assert escalation(stored, NOW).broken_promises == 2
    step, values = broken_promise_message(stored, promise())
    assert (step.step_id, step.action, step.channels, step.template) == \
        ("promise_broken", "escalate", ("sms",), "promise_broken")
    assert (values.amount_due_minor, values.due_date) == (stored.amount_overdue_minor, promise().promised_for)


def test_promise_evaluation_counts_cash_from_the_promise_to_its_follow_up_day() -> None:
    made = promise()
    before, inside, after = made.made_on - timedelta(days=1), made.made_on, made.follow_up_on + timedelta(days=1)
    assert evaluate_promise(made, [(inside, 500_00)], 1, AS_OF).status == "kept"
    broken = evaluate_promise(made, [(before, 500_00), (inside, 100_00), (after, 500_00)], 1, AS_OF)
    assert (broken.status, broken.paid_minor, broken.evaluated_on) == ("broken", 100_00, AS_OF)
    early = evaluate_promise(made, [], 1, made.promised_for)
    assert early.status == "pending"


# --------------------------------------------------------------------------- checks and their kinds


def test_unknown_and_closed_cases() -> None:
    with pytest.raises(CaseNotFound) as unknown:
        check_open(None, "C-NOPE")
    assert unknown.value.kind == ErrorKind.NOT_FOUND and unknown.value.field == "case_id"
    assert isinstance(unknown.value, CollectionsError) and "unknown case" in str(unknown.value)
    with pytest.raises(CollectionsConflict) as closed:
        check_open(case(status="closed", close_reason="current"), "C-L0-20260210")
    assert closed.value.kind == ErrorKind.CONFLICT and "closed (current)" in str(closed.value)
    assert check_open(case(), "C-L0-20260210") == case()


def test_a_run_works_only_the_day_end_of_day_closed() -> None:
    check_as_of(None, AS_OF)  # no live loan: any day
    check_as_of(AS_OF, AS_OF)
    with pytest.raises(CollectionsConflict) as caught:
        check_as_of(AS_OF - timedelta(days=1), AS_OF)
    assert caught.value.field == "as_of"


def test_contact_times() -> None:
    assert check_when(None, NOW) == NOW
    assert check_when(NOW - timedelta(hours=1), NOW) == NOW - timedelta(hours=1)
    for bad in (datetime(2026, 2, 20, 9), NOW + timedelta(seconds=1), "2026-02-20T09:00:00+00:00"):
        with pytest.raises(CollectionsError) as caught:
            check_when(bad, NOW)  # type: ignore[arg-type]
        assert caught.value.field == "at" and caught.value.kind == ErrorKind.INVALID


def test_promise_dates_and_fit() -> None:
    check_promise_dates(AS_OF, AS_OF, 14)
    refused = [((AS_OF - timedelta(days=1), AS_OF), "promised_for"), ((AS_OF + timedelta(days=15), AS_OF),
                                                                      "promised_for"),
               ((NOW, AS_OF), "promised_for"), ((AS_OF, "2026-02-20"), "on")]
    for (promised_for, on), field in refused:
        with pytest.raises(CollectionsError) as caught:
            check_promise_dates(promised_for, on, 14)  # type: ignore[arg-type]
        assert caught.value.field == field
    stored = case()
    check_promise_fits(stored, None, 1_000, 1_000, AS_OF)
    with pytest.raises(CollectionsError) as early:
        check_promise_fits(stored, None, 1_000, 1, stored.opened_on - timedelta(days=1))
    assert early.value.field == "on"
    with pytest.raises(CollectionsConflict) as pending:
        check_promise_fits(stored, promise(), 1_000, 1, AS_OF)
    assert pending.value.field == "case_id" and "still pending" in str(pending.value)
    with pytest.raises(CollectionsError) as too_much:
        check_promise_fits(stored, None, 1_000, 1_001, AS_OF)
    assert too_much.value.field == "amount_minor"


def test_capacity_and_collectors() -> None:
    assert check_capacity(3) == 3
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(CollectionsError):
            check_capacity(bad)
    check_room("ann", 1, 2)
    with pytest.raises(CollectionsConflict, match="capacity 2"):
        check_room("ann", 2, 2)
    accounts = {"ann": CollectorAccount("ann", "collections_agent", True),
                "gone": CollectorAccount("gone", "collections_agent", False),
                "olga": CollectorAccount("olga", "credit_officer", True)}
    check_collectors(["ann"], ["collector"], accounts, "collections_agent")
    for name in ("gone", "olga", "nobody"):
        with pytest.raises(CollectionsError, match="not an enabled collections agent") as caught:
            check_collectors(["ann", name], ["c0", "c1"], accounts, "collections_agent")
        assert caught.value.field == "c1"
