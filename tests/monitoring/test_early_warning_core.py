"""Early warning, the functional core: records, indicator documents, one-loan vs whole-book evaluation."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lendstack.monitoring.early_warning import (
    ROW_NAMES,
    EarlyWarningError,
    LoanState,
    build_row,
    check_not_late,
    evaluate,
    evaluate_row,
    load_indicators,
    missed_in_last,
    parse_indicators,
    parse_record,
    rows_frame,
    transition,
)
from lendstack.origination.snapshots import fingerprint

AS_OF = date(2026, 6, 30)


def test_the_default_set_has_at_least_20_indicators_with_both_languages() -> None:
    indicators = load_indicators()
    assert len(indicators.indicators) >= 20
    assert all(i.doc.en and i.doc.zh for i in indicators.indicators)
    assert set(indicators.actions["critical"]) >= {"freeze_line"}


def test_a_record_is_fingerprinted_like_an_origination_snapshot() -> None:
    record = parse_record({"loan_id": "L1", "source": "pos", "as_of": "2026-05-31",
                           "payload": {"revenue_minor": 100, "cost_minor": 60}}, "records[0]")
    assert record.fingerprint == fingerprint("pos", {"revenue_minor": 100, "cost_minor": 60})
    assert record.as_of == date(2026, 5, 31)


@pytest.mark.parametrize(("raw", "field"), [
    ({"source": "pos", "as_of": "2026-05-31", "payload": {}}, "records[0].loan_id"),
    ({"loan_id": "L1", "source": "weather", "as_of": "2026-05-31", "payload": {}}, "records[0].source"),
    ({"loan_id": "L1", "source": "tax", "as_of": "31/05/2026", "payload": {"arrears_minor": 0}}, "records[0].as_of"),
    ({"loan_id": "L1", "source": "tax", "as_of": "2026-05-31", "payload": [1]}, "records[0].payload"),
    ({"loan_id": "L1", "source": "tax", "as_of": "2026-05-31", "payload": {"arrears_minor": "x"}},
     "records[0].payload.arrears_minor"),
    ({"loan_id": "L1", "source": "pos", "as_of": "2026-05-31", "payload": {"revenue_minor": -1, "cost_minor": 0}},
     "records[0].payload.revenue_minor"),
    ("not an object", "records[0]"),
])
def test_a_malformed_record_names_its_field(raw: Any, field: str) -> None:
    with pytest.raises(EarlyWarningError) as err:
        parse_record(raw, "records[0]")
    assert err.value.field == field


def test_late_data_is_refused_naming_as_of() -> None:
    record = parse_record({"loan_id": "L1", "source": "tax", "as_of": "2026-04-30",
                           "payload": {"arrears_minor": 0}}, "records[0]")
    with pytest.raises(EarlyWarningError, match="2026-04-30 is before") as err:
        check_not_late([record], {("L1", "tax"): date(2026, 5, 31)})
    assert err.value.field == "records[0].as_of"


GOOD = """\
version: "t1"
actions: {critical: [freeze_line]}
indicators:
  - name: dpd
    en: Days past due
    zh: 逾期天数
    formula: dpd
    thresholds: [{severity: warn, at_least: 15}]
"""


@pytest.mark.parametrize(("text", "line", "reason"), [
    (GOOD.replace("formula: dpd", "formula: dpd +"), 7, "syntax error"),
    (GOOD.replace("formula: dpd", "formula: days_late"), 7, "unknown name 'days_late'"),
    (GOOD.replace("formula: dpd", "formula: __import__('os')"), 7, "unknown function"),
    (GOOD.replace("severity: warn", "severity: panic"), 8, "severity"),
    (GOOD.replace("[{severity: warn, at_least: 15}]", "[{severity: high, at_least: 9}, {severity: warn, at_least: 3}]"),
     4, "thresholds must rise"),
    (GOOD.replace("    zh: 逾期天数\n", ""), 4, "zh"),
    (GOOD.replace("version:", "version: [\n"), 3, "flow sequence"),
])
def test_an_invalid_indicator_document_names_the_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(EarlyWarningError) as err:
        parse_indicators(text, "ind.yaml")
    assert err.value.field.startswith(f"ind.yaml:{line}"), err.value
    assert reason in str(err.value)


def _state(loan_id: str, rng: random.Random) -> LoanState:
    dpd = rng.choice([0, 0, 0, 3, 16, 35, 95])
    return LoanState(loan_id, "overdue" if dpd else "active", dpd, "M0" if dpd == 0 else "M1",
                     rng.randrange(0, 5_000_000), rng.choice([0, 0, 1]), rng.choice([0, 0, 0, 1, 2, 3]))


def _history(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    base = rng.randrange(0, 500_000)
    history: dict[str, list[dict[str, Any]]] = {
        "pos": [{"revenue_minor": (r := max(0, int(base * rng.uniform(0.1, 1.6)))), "cost_minor": int(r * rng.random())}
                for _ in range(rng.randrange(0, 8))],
        "bureau": [{"open_loans": rng.randrange(0, 10), "inquiries_6m": rng.randrange(0, 12),
                    "utilisation": rng.random()} for _ in range(rng.randrange(0, 3))],
        "telematics": [{"region_exits": rng.randrange(0, 4), "mileage_km": rng.choice([0, rng.uniform(0, 3000)])}
                       for _ in range(rng.randrange(0, 3))],
        "device": [{"device_id": rng.choice("ab")} for _ in range(rng.randrange(0, 5))],
        "tax": [{"arrears_minor": rng.choice([0, 0, 500, 2_000_000])} for _ in range(rng.randrange(0, 2))],
    }
    return {source: items for source, items in history.items() if items}


def test_online_and_columnar_evaluation_agree_on_a_random_book() -> None:
    rng = random.Random(7)
    indicators = load_indicators()
    rows = [{"loan_id": f"L{i:04d}", **build_row(_state(f"L{i:04d}", rng), _history(rng))} for i in range(400)]
    online = sorted((a for row in rows for a in evaluate_row(indicators, row, AS_OF)),
                    key=lambda a: (a.loan_id, a.indicator))
    columnar = evaluate(indicators, rows_frame(rows), AS_OF)
    assert len(online) > 100  # the sample exercises the indicators, it is not all silent
    assert {a.indicator for a in online} >= {"revenue_drop", "dpd", "device_change", "new_borrowing_elsewhere"}
    assert columnar == online


def test_a_row_has_every_name_and_absent_data_is_null() -> None:
    row = build_row(LoanState("L1", "active", 0, "M0", 100, 0, 0), {})
    assert set(row) == ROW_NAMES
    assert row["revenue_m1"] is None and row["new_loans_elsewhere"] is None
    assert evaluate_row(load_indicators(), {"loan_id": "L1", **row}, AS_OF) == []


def test_missed_installments_count_only_the_last_three_due() -> None:
    due = [(date(2026, m, 10), settled) for m, settled in [(1, False), (2, True), (3, False), (4, False), (5, True)]]
    assert missed_in_last(due, date(2026, 5, 1)) == 2  # Feb paid, Mar and Apr not; Jan is out of the window
    assert missed_in_last(due, date(2026, 6, 1)) == 2


def test_the_lifecycle_refuses_what_is_not_allowed() -> None:
    at = datetime(2026, 6, 30, tzinfo=UTC)
    status, entry = transition("open", "acknowledge", "ana", at)
    assert (status, entry["by"], entry["at"]) == ("acknowledged", "ana", at.isoformat())
    with pytest.raises(EarlyWarningError, match="cannot acknowledge"):
        transition("closed", "acknowledge", "ana", at)
    with pytest.raises(EarlyWarningError) as err:
        transition("open", "assign", "ana", at)
    assert err.value.field == "assignee"
    with pytest.raises(EarlyWarningError) as err:
        transition("open", "close", " ", at)
    assert err.value.field == "by"
