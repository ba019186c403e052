"""The shell of early warning: ingest post-loan data, run the indicators over the book, keep the alerts.

Every command is one unit of work: a batch of records is stored whole or not at all, a run stores its
alerts and their `loan.alert_raised` events together. The actions on an alert (freeze_line, call, ...)
are carried by that event; servicing and collections act on it, monitoring never touches a loan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from lendstack.errors import ErrorKind
from lendstack.events import DomainEvent
from lendstack.monitoring.alerts import (
    AlertRecord,
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
from lendstack.monitoring.early_warning import (
    Alert,
    EarlyWarningError,
    IndicatorSet,
    LoanState,
    book_features,
    build_row,
    check_not_late,
    evaluate,
    evaluate_row,
    load_indicators,
    missed_in_last,
    parse_record,
)
from lendstack.store import Connection, Engine, UnitOfWork
from lendstack.store.alerts_repo import ALERTS_MAX, AlertsRepository, LiveLoan

ALERT_RAISED = "loan.alert_raised"
ALERT_LIST_MAX = ALERTS_MAX


@dataclass(frozen=True, slots=True)
class IngestResult:
    records: int  # in the batch
    stored: int  # new snapshots
    unchanged: int  # identical to one already stored

    def to_json(self) -> dict[str, int]:
        return {"records": self.records, "stored": self.stored, "unchanged": self.unchanged}


@dataclass(frozen=True, slots=True)
class RunSummary:
    as_of: date
    indicator_set: str
    loans: int  # live loans evaluated
    alerts: int  # conditions true on the day
    new_alerts: int  # of which stored and announced now
    by_severity: tuple[tuple[str, int], ...]  # (severity, alerts), in severity_counts' order

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "indicator_set": self.indicator_set, "loans": self.loans,
                "alerts": self.alerts, "new_alerts": self.new_alerts, "by_severity": dict(self.by_severity)}


# --------------------------------------------------------------------------- ingestion


def ingest_batch(engine: Engine, records: Iterable[Any]) -> IngestResult:
    """Validate and store a batch of post-loan records, all or nothing. Re-sending an identical record
    is a no-op; unknown loans, late (back-dated) or conflicting data refuse the whole batch."""
    parsed = [parse_record(raw, f"records[{i}]") for i, raw in enumerate(records)]
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        snapshots = AlertsRepository(uow.connection)
        check_loans_known(parsed, snapshots.known_loans(r.loan_id for r in parsed))
        stored = snapshots.snapshot_fingerprints(r.loan_id for r in parsed)
        fresh = fresh_records(parsed, stored)
        check_conflicts(parsed, stored)
        check_not_late(fresh, snapshots.latest_snapshot_dates(r.loan_id for r in fresh))
        check_batch_duplicates(fresh)
        snapshots.add_snapshots(fresh, now)
    return IngestResult(len(parsed), len(fresh), len(parsed) - len(fresh))


# --------------------------------------------------------------------------- the book as rows


def book_rows(conn: Connection, as_of: date, loan_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One flat row per live loan, from its servicing state and the snapshots dated on or before `as_of`."""
    repo = AlertsRepository(conn)
    live = repo.live_loans(loan_ids)
    due = repo.due_and_settled([loan.loan_id for loan in live])
    states = [_state(loan, missed_in_last(due.get(loan.loan_id, []), as_of)) for loan in live]
    history = repo.histories(as_of, [s.loan_id for s in states])
    return [{"loan_id": s.loan_id, **build_row(s, history.get(s.loan_id, {}))} for s in states]


def _state(loan: LiveLoan, missed_last_3: int) -> LoanState:
    return LoanState(
        loan_id=loan.loan_id, status=loan.status, days_past_due=loan.days_past_due, bucket=loan.bucket,
        principal_outstanding_minor=loan.principal_outstanding_minor,
        restructure_count=loan.restructure_count, missed_last_3=missed_last_3,
    )


def book_frame(conn: Connection, as_of: date, loan_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """The book as one frame: rows_frame(book_rows(...)), built columnar from three set queries, for a
    whole-book run. Live loans are selected by a join in each query, not by a list of ids."""
    frames = AlertsRepository(conn).book_frames(as_of, loan_ids)
    frame = book_features(frames.loans, frames.installments, frames.snapshots, as_of)
    assert frame["loan_id"].equals(frames.loans["loan_id"]), "one row per live loan, in loan_id order"
    return frame


# --------------------------------------------------------------------------- runs and alerts


def run_book(engine: Engine, as_of: date, indicators: IndicatorSet | None = None) -> RunSummary:
    """Evaluate the whole book as of a date (columnar). Idempotent per date: alerts already raised are kept
    as they are (with their lifecycle), only new ones are stored and announced."""
    ind = indicators or load_indicators()
    with UnitOfWork(engine) as uow:
        frame = book_frame(uow.connection, as_of)
        alerts = evaluate(ind, frame, as_of)
        new = _store_alerts(uow, alerts)
    return RunSummary(as_of, ind.version, frame.height, len(alerts), len(new),
                      tuple(severity_counts(alerts).items()))


def check_loan(engine: Engine, loan_id: str, as_of: date, indicators: IndicatorSet | None = None) -> list[Alert]:
    """Online: one loan through the row evaluators (on arriving data); new alerts are stored like a run's."""
    ind = indicators or load_indicators()
    with UnitOfWork(engine) as uow:
        rows = book_rows(uow.connection, as_of, [loan_id])
        alerts = evaluate_row(ind, rows[0], as_of) if rows else []
        _store_alerts(uow, alerts)
    return alerts


def _store_alerts(uow: UnitOfWork, alerts: Sequence[Alert]) -> list[Alert]:
    """Store the alerts not yet raised (monitoring.alerts.new_alerts) and announce each."""
    repo = AlertsRepository(uow.connection)
    existing = repo.existing_alert_ids([a.alert_id for a in alerts])
    standing = standing_ranks(repo.standing(sorted({a.loan_id for a in alerts})))
    new = new_alerts(alerts, existing, standing)
    if not new:
        return []
    now = datetime.now(UTC)
    repo.add_alerts([raised(a, now) for a in new])
    uow.outbox.add_many(_raised_event(a, now) for a in new)
    return new


def _raised_event(alert: Alert, now: datetime) -> DomainEvent:
    return DomainEvent.new(ALERT_RAISED, "loan", alert.loan_id, {
        "alert_id": alert.alert_id, "indicator": alert.indicator, "severity": alert.severity,
        "as_of": alert.as_of.isoformat(), "actions": list(alert.actions), "evidence": alert.evidence,
    }, occurred_at=now)


def alerts(engine: Engine, *, status: str | None = None, loan_id: str | None = None,
           limit: int = ALERT_LIST_MAX) -> list[AlertRecord]:
    """The alerts, newest as_of first, then by loan and indicator."""
    with engine.connect() as conn:
        return AlertsRepository(conn).alerts(status=status, loan_id=loan_id, limit=limit)


def act_on(engine: Engine, alert_id: str, command: str, by: str, *, assignee: str = "",
           note: str = "") -> AlertRecord:
    """acknowledge | assign | close an alert, recording who and when in its history."""
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        repo = AlertsRepository(uow.connection)
        record = repo.alert(alert_id, for_update=True)  # two staff acting at once must not lose a history entry
        if record is None:
            raise EarlyWarningError("alert_id", f"unknown alert {alert_id!r}", kind=ErrorKind.NOT_FOUND)
        after = acted(record, command, by, now, assignee=assignee, note=note)
        repo.save_lifecycle(after)
    return after
