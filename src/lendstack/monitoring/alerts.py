"""Early-warning alerts once raised: the stored record with its lifecycle, and the rules that decide
which of a run's alerts are new and how a batch of post-loan records may be stored. Pure: no I/O.

`monitoring.early_warning` evaluates indicators into `Alert`s and holds the lifecycle table
(`transition`); this module turns an `Alert` into an `AlertRecord` (status, assignee, history) and
applies a command to one. services/early_warning.py stores them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lendstack.errors import ErrorKind
from lendstack.monitoring.early_warning import SEVERITIES, Alert, EarlyWarningError, PostLoanRecord, transition

SnapshotKey = tuple[str, str, date]  # (loan_id, source, as_of): one snapshot per key


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as stored, with its lifecycle. `to_json` is the document the API, the console and
    the CLI show (the stored columns in order, dates and times as ISO text)."""

    alert_id: str
    loan_id: str
    indicator: str
    severity: str
    as_of: date
    evidence: dict[str, Any]
    actions: list[str]
    status: str  # open | acknowledged | assigned | closed
    assignee: str  # '' = nobody
    history: list[dict[str, Any]]  # [{action, by, at, from, to, ...}], append-only
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "loan_id": self.loan_id, "indicator": self.indicator,
                "severity": self.severity, "as_of": self.as_of.isoformat(), "evidence": self.evidence,
                "actions": self.actions, "status": self.status, "assignee": self.assignee, "history": self.history,
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat()}


def raised(alert: Alert, now: datetime) -> AlertRecord:
    """The record of a newly raised alert: open, nobody assigned, raised by the system."""
    return AlertRecord(alert.alert_id, alert.loan_id, alert.indicator, alert.severity, alert.as_of, alert.evidence,
                       list(alert.actions), "open", "", [{"action": "raise", "by": "system", "at": now.isoformat(),
                                                          "to": "open"}], now, now)


def acted(record: AlertRecord, command: str, by: str, now: datetime, *, assignee: str = "",
          note: str = "") -> AlertRecord:
    """The record after acknowledge | assign | close by `by`; EarlyWarningError if not allowed."""
    status, entry = transition(record.status, command, by, now, assignee=assignee, note=note)
    return dataclasses.replace(record, status=status, history=[*record.history, entry], updated_at=now,
                               assignee=assignee if command == "assign" else record.assignee)


def standing_ranks(open_alerts: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """The highest severity rank per (loan, indicator) of (loan_id, indicator, severity) not closed."""
    standing: dict[tuple[str, str], int] = {}
    for loan_id, indicator, severity in open_alerts:
        rank = SEVERITIES.index(severity)
        standing[(loan_id, indicator)] = max(rank, standing.get((loan_id, indicator), -1))
    return standing


def new_alerts(alerts: Sequence[Alert], existing_ids: set[str],
               standing: Mapping[tuple[str, str], int]) -> list[Alert]:
    """The alerts to store. A condition that is still true on the next run is the SAME alert, not a
    new one: while a (loan, indicator) alert is not closed, only a higher severity raises another
    (otherwise a daily run would re-raise every standing condition every day)."""
    return [a for a in alerts if a.alert_id not in existing_ids
            and SEVERITIES.index(a.severity) > standing.get((a.loan_id, a.indicator), -1)]


def severity_counts(alerts: Iterable[Alert]) -> dict[str, int]:
    """{severity: how many}, by severity name."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.severity] = counts.get(alert.severity, 0) + 1
    return dict(sorted(counts.items()))


# --------------------------------------------------------------------------- a batch of records


def check_loans_known(records: Sequence[PostLoanRecord], known: set[str]) -> None:
    for index, record in enumerate(records):
        if record.loan_id not in known:
            raise EarlyWarningError(f"records[{index}].loan_id", f"unknown loan {record.loan_id!r}",
                                    kind=ErrorKind.NOT_FOUND)


def check_conflicts(records: Sequence[PostLoanRecord], stored: Mapping[SnapshotKey, str]) -> None:
    """Snapshots are immutable: a record differing from the one stored under its key is refused."""
    for index, record in enumerate(records):
        known = stored.get((record.loan_id, record.source, record.as_of))
        if known is not None and known != record.fingerprint:
            raise EarlyWarningError(f"records[{index}].payload", f"differs from the {record.source} data already "
                                    f"stored for loan {record.loan_id!r} as of {record.as_of}; snapshots are immutable")


def check_batch_duplicates(records: Sequence[PostLoanRecord]) -> None:
    """Two different records under one key in the same batch are refused."""
    seen: dict[SnapshotKey, str] = {}
    for index, record in enumerate(records):
        key = (record.loan_id, record.source, record.as_of)
        if seen.setdefault(key, record.fingerprint) != record.fingerprint:
            raise EarlyWarningError(f"records[{index}]", f"two different {record.source} records for loan "
                                    f"{record.loan_id!r} as of {record.as_of} in one batch")


def fresh_records(records: Sequence[PostLoanRecord], stored: Mapping[SnapshotKey, str]) -> list[PostLoanRecord]:
    """The records not stored yet (an identical re-sent one is a no-op)."""
    return [r for r in records if (r.loan_id, r.source, r.as_of) not in stored]
