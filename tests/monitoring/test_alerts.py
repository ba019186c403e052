"""The pure rules of raised alerts (monitoring/alerts.py): which of a run's alerts are new, the
record of a raised alert and its lifecycle, and the checks on a batch of post-loan records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lendstack.errors import ErrorKind
from lendstack.monitoring.alerts import (
    acted,
    check_batch_duplicates,
    check_conflicts,
    check_loans_known,
    fresh_records,
    new_alerts,
    raised,
    severity_counts,
    standing_ranks,
)
from lendstack.monitoring.early_warning import Alert, EarlyWarningError, PostLoanRecord

NOW = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
DAY = date(2026, 4, 5)


def alert(loan_id: str = "L1", indicator: str = "revenue_drop", severity: str = "warn", as_of: date = DAY) -> Alert:
    return Alert(f"ew_{loan_id}_{indicator}_{as_of}", loan_id, indicator, severity, as_of, ("call",),
                 {"drop": 0.5})


def record(loan_id: str = "L1", fingerprint: str = "f1", as_of: date = DAY) -> PostLoanRecord:
    return PostLoanRecord(loan_id, "pos", as_of, {"revenue_minor": 1}, fingerprint)


def test_a_raised_alert_is_open_unassigned_with_one_history_entry() -> None:
    made = raised(alert(), NOW)
    assert (made.status, made.assignee, made.created_at, made.updated_at) == ("open", "", NOW, NOW)
    assert made.history == [{"action": "raise", "by": "system", "at": NOW.isoformat(), "to": "open"}]
    document = made.to_json()
    assert list(document) == ["alert_id", "loan_id", "indicator", "severity", "as_of", "evidence", "actions",
                              "status", "assignee", "history", "created_at", "updated_at"]
    assert document["as_of"] == DAY.isoformat() and document["actions"] == ["call"]


def test_acting_appends_history_and_only_assign_changes_the_assignee() -> None:
    later = NOW + timedelta(hours=1)
    assigned = acted(raised(alert(), NOW), "assign", "ana", later, assignee="bo")
    assert (assigned.status, assigned.assignee, assigned.updated_at) == ("assigned", "bo", later)
    assert [h["action"] for h in assigned.history] == ["raise", "assign"]
    closed = acted(assigned, "close", "bo", later, note="fine")
    assert (closed.status, closed.assignee, closed.history[-1]["note"]) == ("closed", "bo", "fine")
    with pytest.raises(EarlyWarningError) as refused:
        acted(closed, "acknowledge", "ana", later)
    assert refused.value.field == "status"


def test_a_standing_condition_is_not_raised_again_unless_worse() -> None:
    standing = standing_ranks([("L1", "revenue_drop", "warn"), ("L1", "revenue_drop", "info"),
                               ("L2", "device_change", "high")])
    assert standing == {("L1", "revenue_drop"): 1, ("L2", "device_change"): 2}
    same, worse, other = alert(as_of=DAY + timedelta(days=1)), alert(severity="high"), alert("L3")
    assert new_alerts([same, worse, other], set(), standing) == [worse, other]
    assert new_alerts([other], {other.alert_id}, {}) == []


def test_severity_counts_are_by_name() -> None:
    assert severity_counts([alert(severity="warn"), alert("L2", severity="high"), alert("L3")]) == \
        {"high": 1, "warn": 2}


def test_batch_checks() -> None:
    with pytest.raises(EarlyWarningError) as unknown:
        check_loans_known([record("L1"), record("L9")], {"L1"})
    assert (unknown.value.field, unknown.value.kind) == ("records[1].loan_id", ErrorKind.NOT_FOUND)
    stored = {("L1", "pos", DAY): "f1"}
    assert fresh_records([record(), record(as_of=DAY + timedelta(days=1))], stored) == \
        [record(as_of=DAY + timedelta(days=1))]
    check_conflicts([record()], stored)
    with pytest.raises(EarlyWarningError, match="immutable"):
        check_conflicts([record(fingerprint="f2")], stored)
    check_batch_duplicates([record(), record()])
    with pytest.raises(EarlyWarningError) as twice:
        check_batch_duplicates([record(), record(fingerprint="f2")])
    assert twice.value.field == "records[1]"
