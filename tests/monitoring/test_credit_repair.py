"""Credit-repair eligibility as pure functions: overdue records, months of on-time repayment, the
11 / 12 month boundary, an overdue installment in the window, the grant limit, program settings
validated by field, and properties of the decision."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstack.monitoring.credit_repair import (
    CreditRepairError,
    Installment,
    ProgramConfig,
    evaluate,
    months_on_time,
    overdue_records,
    unrepaired_count,
)
from lendstack.schedule.dates import add_months

START = date(2025, 1, 10)
CFG = ProgramConfig()


def history(n: int, late: dict[int, int] | None = None, unpaid: frozenset[int] = frozenset()) -> list[Installment]:
    """n monthly installments of loan L, paid on the due date unless `late` (seq -> days) or unpaid."""
    late = late or {}
    out = []
    for seq in range(1, n + 1):
        due = add_months(START, seq)
        paid = None if seq in unpaid else due + timedelta(days=late.get(seq, 0))
        out.append(Installment("L", seq, due, paid))
    return out


def codes(result: object) -> list[str]:
    return [r.code for r in result.reasons]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("paid", "eligible"), [(12, False), (13, True)])
def test_eleven_months_refused_twelve_granted(paid: int, eligible: bool) -> None:
    inst = history(paid, late={1: 10})
    on = add_months(START, paid) + timedelta(days=1)
    result = evaluate(inst, {"L": "active"}, on, CFG, [])
    assert result.months_on_time == paid - 1 and result.eligible is eligible
    assert codes(result) == ([] if eligible else ["not_enough_on_time_months"])
    assert (result.record is not None and result.record.record_id == "L#1") is eligible


def test_an_overdue_installment_in_the_window_restarts_the_count() -> None:
    inst = history(16, late={1: 10, 8: 3})
    on = add_months(START, 16)
    result = evaluate(inst, {"L": "active"}, on, CFG, [])
    assert result.months_on_time == 8 and codes(result) == ["not_enough_on_time_months"]
    assert evaluate(inst, {"L": "active"}, on, ProgramConfig(months_on_time=8), []).record.record_id == "L#1"  # type: ignore[union-attr]


def test_grace_days_and_the_due_date_itself() -> None:
    inst = history(2, late={1: 2})
    assert [r.days_late for r in overdue_records(inst, add_months(START, 3), CFG)] == [2]
    assert overdue_records(inst, add_months(START, 3), ProgramConfig(grace_days=2)) == []
    unpaid = history(1, unpaid=frozenset({1}))
    assert overdue_records(unpaid, add_months(START, 1), CFG) == []  # due today: not late yet
    assert overdue_records(unpaid, add_months(START, 1) + timedelta(days=1), CFG)[0].days_late == 1


def test_current_overdue_written_off_and_the_limit() -> None:
    inst = history(14, late={1: 10}, unpaid=frozenset({14}))
    on = add_months(START, 14) + timedelta(days=5)
    result = evaluate(inst, {"L": "overdue"}, on, CFG, [])
    assert codes(result) == ["current_overdue", "not_enough_on_time_months"] and result.record is None
    assert "当前有逾期" in result.reasons[0].zh
    clean = history(13, late={1: 10})
    on = add_months(START, 13) + timedelta(days=1)
    assert codes(evaluate(clean, {"L": "written_off"}, on, CFG, [])) == ["written_off"]
    assert codes(evaluate(clean, {"L": "closed"}, on, CFG, ["L#1"])) == ["max_records_granted", "no_eligible_record"]
    two = ProgramConfig(max_records=2)
    assert codes(evaluate(clean, {"L": "closed"}, on, two, ["L#1"])) == ["no_eligible_record"]


def test_record_types_and_asking_for_a_record() -> None:
    inst = history(13, late={1: 120})  # serious: more than 90 days late
    on = add_months(START, 13) + timedelta(days=200)
    assert overdue_records(inst, on, CFG)[0].record_type == "serious_delinquency"
    assert codes(evaluate(inst, {"L": "closed"}, on, CFG, [])) == ["no_eligible_record"]
    both = ProgramConfig(eligible_record_types=("late_payment", "serious_delinquency"))
    assert evaluate(inst, {"L": "closed"}, on, both, []).eligible
    asked = evaluate(inst, {"L": "closed"}, on, both, [], wanted_record="L#2")
    assert codes(asked) == ["record_not_eligible"] and "not an overdue record" in asked.reasons[0].en


@pytest.mark.parametrize(("settings_", "field"), [
    ({"months_on_time": 0}, "program.months_on_time"), ({"months_on_time": "12"}, "program.months_on_time"),
    ({"max_records": 0}, "program.max_records"),
    ({"eligible_record_types": ["fraud"]}, "program.eligible_record_types"),
    ({"eligible_record_types": []}, "program.eligible_record_types"), ({"grace_days": -1}, "program.grace_days"),
    ({"colour": 1}, "program.colour"),
])
def test_program_settings_are_validated_naming_the_field(settings_: dict[str, object], field: str) -> None:
    with pytest.raises(CreditRepairError) as err:
        ProgramConfig.from_mapping(settings_)
    assert err.value.field == field


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 30), late=st.dictionaries(st.integers(1, 30), st.integers(1, 200), max_size=4),
       unpaid=st.frozensets(st.integers(1, 30), max_size=2), after_days=st.integers(0, 400),
       months=st.integers(1, 24), granted=st.booleans())
def test_decision_properties(n: int, late: dict[int, int], unpaid: frozenset[int], after_days: int, months: int,
                             granted: bool) -> None:
    inst = history(n, late, unpaid)
    on = add_months(START, n) + timedelta(days=after_days)
    cfg = ProgramConfig(months_on_time=months)
    records = overdue_records(inst, on, cfg)
    done = [records[0].record_id] if granted and records else []
    result = evaluate(inst, {"L": "active"}, on, cfg, done)
    if result.eligible:  # a grant needs: nothing overdue now, enough on-time months, a free historical record
        assert result.record is not None and result.record.historical and result.record.record_id not in done
        assert all(r.historical for r in records) and result.months_on_time >= months and not done
    else:
        assert result.reasons and result.record is None
    assert months_on_time(inst, records, on) <= n
    assert unrepaired_count(records, done) == len(records) - len(done)
