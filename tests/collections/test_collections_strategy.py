"""Collections, the functional core: the strategy as data (and its errors naming field and line), step
selection, the roll model, priorities, queue order, assignment under capacity, promise evaluation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstack.collections.domain import (
    BANDS,
    BUCKET_ORDER,
    DEFAULT_STRATEGY,
    PPM,
    CollectionsError,
    MessageValues,
    QueueItem,
    RollInputs,
    RollModelDoc,
    Step,
    load_strategy,
    parse_strategy,
    plan_assignments,
    priority_minor,
    promise_status,
    queue_order,
    roll_ppm,
    step_due,
)

STRATEGY = load_strategy()
TEXT = DEFAULT_STRATEGY.read_text(encoding="utf-8")
MODEL = RollModelDoc()


def edited(change: str, to: str) -> str:
    assert change in TEXT, change
    return TEXT.replace(change, to, 1)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


# --------------------------------------------------------------------------- the strategy document


def test_default_strategy_steps_at_the_stage_boundaries() -> None:
    expected = {1: "day1", 6: "day1", 7: "day7", 30: "day7", 31: "escalation", 60: "escalation",
                61: "field_visit", 90: "field_visit", 91: "legal", 5000: "legal"}
    for dpd, stage in expected.items():
        assert STRATEGY.stage_for(dpd).id == stage, dpd
    assert STRATEGY.step_for(1, "high") == Step("day1.high", "day1", "high", "call", ("sms",), "overdue", 1)
    assert STRATEGY.step_for(45, "medium").action == "escalate"
    assert STRATEGY.step_for(75, "high").action == "field_visit"
    assert STRATEGY.step_for(120, "low").action == "legal"
    assert STRATEGY.reminder_days == (0, 3)
    assert STRATEGY.reminder_for(3) is not None and STRATEGY.reminder_for(2) is None


def test_band_cut_offs_are_inclusive_from_below() -> None:
    assert [STRATEGY.band_of(p) for p in (0, 299_999, 300_000, 549_999, 550_000, PPM)] == [
        "low", "low", "medium", "medium", "high", "high"]


@given(st.integers(min_value=1, max_value=100_000))
def test_every_dpd_maps_to_exactly_one_stage(dpd: int) -> None:
    holding = [s for s in STRATEGY.doc.stages if s.dpd_from <= dpd and (s.dpd_to is None or dpd <= s.dpd_to)]
    assert len(holding) == 1
    assert STRATEGY.stage_for(dpd) == holding[0]
    for band in BANDS:
        assert STRATEGY.step_for(dpd, band).stage == holding[0].id


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6), st.integers(1, 400))
def test_any_contiguous_strategy_maps_each_dpd_once(widths: list[int], dpd: int) -> None:
    stages, start = [], 1
    step = {"action": "call", "channels": ["sms"], "template": "overdue", "every_days": 1}
    for index, width in enumerate(widths):
        last = index == len(widths) - 1
        stages.append({"id": f"s{index}", "dpd_from": start, "dpd_to": None if last else start + width - 1,
                       "steps": dict.fromkeys(BANDS, step)})
        start += width
    doc = yaml.safe_load(TEXT)
    doc["stages"] = stages
    strategy = parse_strategy(yaml.safe_dump(doc, allow_unicode=True))
    holding = [s for s in stages if s["dpd_from"] <= dpd and (s["dpd_to"] is None or dpd <= s["dpd_to"])]
    assert len(holding) == 1 and strategy.stage_for(dpd).id == holding[0]["id"]


@pytest.mark.parametrize(("change", "to", "field", "needle"), [
    ("    dpd_from: 7\n", "    dpd_from: 8\n", "stages.1.dpd_from", "dpd_from: 8"),  # a gap after day 6
    ("    dpd_from: 31\n", "    dpd_from: 25\n", "stages.2.dpd_from", "dpd_from: 25"),  # an overlap
    ("    dpd_from: 1\n", "    dpd_from: 2\n", "stages.0.dpd_from", "dpd_from: 2"),  # DPD 1 uncovered
    ("    dpd_to:\n", "    dpd_to: 400\n", "stages.4.dpd_to", "dpd_to: 400"),  # nothing open-ended
    ("      high: {action: call, channels: [sms], template: overdue, every_days: 1}\n", "",
     "stages.0.steps.high", "low: {action: reminder, channels: [sms]"),  # a risk band without a step
    ("every_days: 3}\n", "every_days: 0}\n", "stages.0.steps.low.every_days", "every_days: 0"),
    ("action: reminder, channels: [sms], template: overdue", "action: shout, channels: [sms], template: overdue",
     "stages.0.steps.low.action", "action: shout"),
    ("channels: [push], template: due_today", "channels: [fax], template: due_today",
     "reminders.1.channels.0", "fax"),
    ("  medium_from: 0.30", "  medium_from: 0.70", "risk_bands", "medium_from: 0.70"),
    ('Please repay today."', 'Please repay {tomorrow}."', "templates.overdue", "{tomorrow}"),
    ("template: escalation, every_days: 5}", "template: nowhere, every_days: 5}", "document", "strategy_id"),
])
def test_a_broken_strategy_names_the_field_and_line(change: str, to: str, field: str, needle: str) -> None:
    text = edited(change, to)
    with pytest.raises(CollectionsError) as caught:
        parse_strategy(text, "s.yaml")
    where = caught.value.field
    assert where.endswith(f": {field}"), caught.value
    if needle:
        assert where.startswith(f"s.yaml:{line_of(text, needle)}:") or field == "document", where


def test_undefined_template_is_named() -> None:
    with pytest.raises(CollectionsError, match="nowhere"):
        parse_strategy(edited("template: escalation, every_days: 5}", "template: nowhere, every_days: 5}"))


def test_unparseable_documents() -> None:
    with pytest.raises(CollectionsError) as caught:
        parse_strategy("a: [1, 2\nb: 3", "bad.yaml")
    assert caught.value.field.startswith("bad.yaml:")
    with pytest.raises(CollectionsError, match="mapping"):
        parse_strategy("- 1\n- 2\n", "list.yaml")
    with pytest.raises(CollectionsError, match="strategy_id"):
        parse_strategy(edited("strategy_id: default", "strategy_idd: default"))
    with pytest.raises(CollectionsError, match="cannot read"):
        load_strategy("/nonexistent/strategy.yaml")


def test_messages_render_amounts_exactly_in_both_languages() -> None:
    values = MessageValues("L7", 1_234_567, "CNY", date(2026, 3, 10), 12)
    body = STRATEGY.render("overdue", values)
    assert "12345.67 CNY" in body["en"] and "L7" in body["en"] and "2026-03-10" in body["en"]
    assert "逾期12天" in body["zh-CN"] and "12345.67" in body["zh-CN"]
    assert "1000 JPY" in STRATEGY.render("upcoming", MessageValues("L8", 1000, "JPY", date(2026, 3, 1), 0))["en"]


# --------------------------------------------------------------------------- the roll model and priorities


def inputs(**change: object) -> RollInputs:
    base: dict[str, object] = {"bucket": "M1", "days_past_due": 10, "missed_last_3": 1, "paid_last_30_minor": 0,
                               "origination_pd": None, "open_alerts": 0, "broken_promises": 0}
    return RollInputs(**(base | change))  # type: ignore[arg-type]


def test_roll_model_reads_each_signal_the_documented_way() -> None:
    plain = roll_ppm(inputs(), MODEL)
    assert roll_ppm(inputs(paid_last_30_minor=100), MODEL) < plain  # paying something: engaged
    assert roll_ppm(inputs(missed_last_3=3), MODEL) > plain
    assert roll_ppm(inputs(days_past_due=28), MODEL) > plain  # later in the bucket
    assert roll_ppm(inputs(origination_pd=Decimal("0.20")), MODEL) > plain
    assert roll_ppm(inputs(origination_pd=Decimal("0.01")), MODEL) < plain
    assert roll_ppm(inputs(open_alerts=2), MODEL) > plain
    assert roll_ppm(inputs(broken_promises=1), MODEL) > plain
    # at the reference PD the origination term is neutral
    assert roll_ppm(inputs(origination_pd=MODEL.reference_pd), MODEL) == plain
    # the bucket's base rate when nothing else is known, at the start of the bucket
    assert roll_ppm(inputs(days_past_due=1), MODEL) == 250_000
    by_bucket = [roll_ppm(inputs(bucket=b, days_past_due=30 * (i - 1) + 1 if i else 0), MODEL)
                 for i, b in enumerate(BUCKET_ORDER)]
    assert by_bucket == sorted(by_bucket)


@given(st.sampled_from(BUCKET_ORDER), st.integers(0, 400), st.integers(0, 3), st.integers(0, 10**9),
       st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9"), places=4), st.integers(0, 10),
       st.integers(0, 10), st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.09"), places=4))
def test_roll_is_a_probability_and_monotone_in_origination_pd(
    bucket: str, dpd: int, missed: int, paid: int, pd: Decimal, alerts: int, broken: int, bump: Decimal
) -> None:
    lower = inputs(bucket=bucket, days_past_due=dpd, missed_last_3=missed, paid_last_30_minor=paid,
                   origination_pd=pd, open_alerts=alerts, broken_promises=broken)
    higher = inputs(bucket=bucket, days_past_due=dpd, missed_last_3=missed, paid_last_30_minor=paid,
                    origination_pd=pd + bump, open_alerts=alerts, broken_promises=broken)
    p_low, p_high = roll_ppm(lower, MODEL), roll_ppm(higher, MODEL)
    assert 1 <= p_low <= p_high <= PPM - 1


@given(st.integers(0, 10**13), st.integers(0, 10**13), st.integers(0, PPM), st.integers(0, PPM))
def test_priority_is_monotone_in_amount_and_roll(a: int, b: int, p: int, q: int) -> None:
    (a, b), (p, q) = sorted((a, b)), sorted((p, q))
    assert priority_minor(a, p) <= priority_minor(b, p)
    assert priority_minor(a, p) <= priority_minor(a, q)
    assert 0 <= priority_minor(b, q) <= b  # never more than the amount itself
    assert priority_minor(b, PPM) == b and priority_minor(b, 0) == 0


def test_queue_order_is_priority_then_older_debt_then_id() -> None:
    items = [QueueItem("c", 500, 10, ""), QueueItem("a", 900, 5, ""), QueueItem("b", 500, 40, "x"),
             QueueItem("d", 500, 10, "")]
    assert [i.case_id for i in queue_order(items)] == ["a", "b", "c", "d"]


# --------------------------------------------------------------------------- assignment, cadence, promises


def test_assignment_fills_the_least_loaded_collector_by_priority_up_to_capacity() -> None:
    items = [QueueItem(f"c{k}", 1000 - k, 10, "") for k in range(6)] + [QueueItem("mine", 5000, 9, "ann")]
    plan = plan_assignments(items, ["ann", "bob"], {"ann": 1}, capacity=3)
    assert plan == [("c0", "bob"), ("c1", "ann"), ("c2", "bob"), ("c3", "ann"), ("c4", "bob")]
    assert plan_assignments(items, ["ann"], {"ann": 3}, capacity=3) == []


@given(st.lists(st.integers(0, 10**6), max_size=40), st.lists(st.integers(0, 6), min_size=1, max_size=4),
       st.integers(1, 8))
def test_assignment_never_exceeds_capacity(priorities: list[int], loads: list[int], capacity: int) -> None:
    items = [QueueItem(f"c{k:03d}", p, 1, "") for k, p in enumerate(priorities)]
    agents = [f"u{k}" for k in range(len(loads))]
    start = dict(zip(agents, loads, strict=True))
    plan = plan_assignments(items, agents, start, capacity)
    room = sum(max(0, capacity - n) for n in loads)
    assert len(plan) == min(len(items), room)
    assert len({case for case, _ in plan}) == len(plan)
    for agent in agents:
        assert start[agent] + sum(1 for _, a in plan if a == agent) <= max(capacity, start[agent])
    given_out = [case for case, _ in plan]
    assert given_out == [i.case_id for i in queue_order(items)][:len(plan)]  # the highest priorities first


def test_a_step_fires_on_entering_its_stage_then_every_n_days_never_twice_a_day() -> None:
    step = STRATEGY.step_for(8, "low")  # every 7 days
    day = date(2026, 3, 1)
    assert step_due("", None, step, day)
    assert not step_due(step.stage, day, step, day)
    assert not step_due(step.stage, day, step, day + timedelta(days=6))
    assert step_due(step.stage, day, step, day + timedelta(days=7))
    assert step_due("day1", day - timedelta(days=1), step, day)  # a new stage acts at once
    assert not step_due("day1", day, step, day)


@pytest.mark.parametrize(("paid", "as_of_offset", "expected"), [
    (10_000, 0, "kept"), (10_001, -3, "kept"), (9_999, 0, "pending"), (9_999, 1, "pending"), (9_999, 2, "broken"),
    (0, 2, "broken"),
])
def test_promise_kept_pending_broken(paid: int, as_of_offset: int, expected: str) -> None:
    promised = date(2026, 3, 10)
    assert promise_status(10_000, paid, promised, 1, promised + timedelta(days=as_of_offset)) == expected
