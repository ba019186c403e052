"""The shell of early warning: ingest post-loan data, run the indicators over the book, keep the alerts.

Every command is one unit of work: a batch of records is stored whole or not at all, a run stores its
alerts and their `loan.alert_raised` events together. The actions on an alert (freeze_line, call, ...)
are carried by that event; servicing and collections act on it, monitoring never touches a loan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Engine, Select, Text, and_, cast, func, insert, select, update

from lendstack.events import DomainEvent
from lendstack.monitoring.early_warning import (
    INSTALLMENT_FRAME_SCHEMA,
    LOAN_FRAME_SCHEMA,
    SEVERITIES,
    SNAPSHOT_FRAME_SCHEMA,
    Alert,
    EarlyWarningError,
    IndicatorSet,
    LoanState,
    PostLoanRecord,
    book_features,
    build_row,
    check_not_late,
    evaluate,
    evaluate_row,
    load_indicators,
    missed_in_last,
    parse_record,
    transition,
)
from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store import UnitOfWork
from lendstack.store.tables import installments, loans
from lendstack.store.tables_monitoring import ew_alerts, post_loan_snapshots

ALERT_RAISED = "loan.alert_raised"
ALERT_LIST_MAX = 1000
IN_CHUNK = 500  # loan ids per IN (...) query: SQLite and PostgreSQL both take this comfortably


# --------------------------------------------------------------------------- ingestion


def ingest(engine: Engine, records: Iterable[Any]) -> dict[str, int]:
    """Validate and store a batch of post-loan records, all or nothing. Re-sending an identical record
    is a no-op; unknown loans, late (back-dated) or conflicting data refuse the whole batch."""
    parsed = [parse_record(raw, f"records[{i}]") for i, raw in enumerate(records)]
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        _check_loans_exist(uow.connection, parsed)
        stored = _stored_fingerprints(uow.connection, parsed)
        fresh = [r for r in parsed if (r.loan_id, r.source, r.as_of) not in stored]
        _check_conflicts(parsed, stored)
        check_not_late(fresh, _latest_dates(uow.connection, fresh))
        _check_batch_duplicates(fresh)
        if fresh:
            uow.connection.execute(insert(post_loan_snapshots), [
                {"loan_id": r.loan_id, "source": r.source, "as_of": r.as_of, "payload": r.payload,
                 "fingerprint": r.fingerprint, "received_at": now} for r in fresh
            ])
    return {"records": len(parsed), "stored": len(fresh), "unchanged": len(parsed) - len(fresh)}


def _check_loans_exist(conn: Connection, records: Sequence[PostLoanRecord]) -> None:
    wanted = {r.loan_id for r in records}
    known = set(conn.execute(select(loans.c.loan_id).where(loans.c.loan_id.in_(wanted))).scalars()) if wanted else set()
    for index, record in enumerate(records):
        if record.loan_id not in known:
            raise EarlyWarningError(f"records[{index}].loan_id", f"unknown loan {record.loan_id!r}")


def _stored_fingerprints(conn: Connection, records: Sequence[PostLoanRecord]) -> dict[tuple[str, str, date], str]:
    loan_ids = {r.loan_id for r in records}
    if not loan_ids:
        return {}
    t = post_loan_snapshots
    rows = conn.execute(select(t.c.loan_id, t.c.source, t.c.as_of, t.c.fingerprint).where(t.c.loan_id.in_(loan_ids)))
    return {(r.loan_id, r.source, r.as_of): r.fingerprint for r in rows}


def _check_conflicts(records: Sequence[PostLoanRecord], stored: Mapping[tuple[str, str, date], str]) -> None:
    for index, record in enumerate(records):
        known = stored.get((record.loan_id, record.source, record.as_of))
        if known is not None and known != record.fingerprint:
            raise EarlyWarningError(f"records[{index}].payload", f"differs from the {record.source} data already "
                                    f"stored for loan {record.loan_id!r} as of {record.as_of}; snapshots are immutable")


def _check_batch_duplicates(records: Sequence[PostLoanRecord]) -> None:
    seen: dict[tuple[str, str, date], str] = {}
    for index, record in enumerate(records):
        key = (record.loan_id, record.source, record.as_of)
        if seen.setdefault(key, record.fingerprint) != record.fingerprint:
            raise EarlyWarningError(f"records[{index}]", f"two different {record.source} records for loan "
                                    f"{record.loan_id!r} as of {record.as_of} in one batch")


def _latest_dates(conn: Connection, records: Sequence[PostLoanRecord]) -> dict[tuple[str, str], date]:
    loan_ids = {r.loan_id for r in records}
    if not loan_ids:
        return {}
    t = post_loan_snapshots
    rows = conn.execute(select(t.c.loan_id, t.c.source, func.max(t.c.as_of).label("latest"))
                        .where(t.c.loan_id.in_(loan_ids)).group_by(t.c.loan_id, t.c.source))
    return {(r.loan_id, r.source): r.latest for r in rows}


# --------------------------------------------------------------------------- the book as rows


def book_rows(conn: Connection, as_of: date, loan_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One flat row per live loan, from its servicing state and the snapshots dated on or before `as_of`."""
    states = _loan_states(conn, as_of, loan_ids)
    history = _histories(conn, as_of, [s.loan_id for s in states])
    return [{"loan_id": s.loan_id, **build_row(s, history.get(s.loan_id, {}))} for s in states]


def _loan_states(conn: Connection, as_of: date, loan_ids: Sequence[str] | None) -> list[LoanState]:
    query = select(loans).where(loans.c.status.in_([s.value for s in LIVE_STATUSES])).order_by(loans.c.loan_id)
    if loan_ids is not None:
        query = query.where(loans.c.loan_id.in_(loan_ids))
    rows = conn.execute(query).all()
    due = _due_and_settled(conn, [r.loan_id for r in rows])
    return [
        LoanState(
            loan_id=r.loan_id, status=r.status, days_past_due=int(r.days_past_due), bucket=r.bucket,
            principal_outstanding_minor=int(r.principal_disbursed_minor + r.principal_capitalized_minor
                                            - r.principal_repaid_minor - r.principal_written_off_minor),
            restructure_count=int(r.restructure_count), missed_last_3=missed_in_last(due.get(r.loan_id, []), as_of),
        )
        for r in rows
    ]


def _due_and_settled(conn: Connection, loan_ids: Sequence[str]) -> dict[str, list[tuple[date, bool]]]:
    if not loan_ids:
        return {}
    i = installments
    out: dict[str, list[tuple[date, bool]]] = defaultdict(list)
    query = select(i.c.loan_id, i.c.due_date, _settled().label("settled")).where(i.c.loan_id.in_(loan_ids))
    for r in conn.execute(query):
        out[r.loan_id].append((r.due_date, bool(r.settled)))
    return out


def _histories(conn: Connection, as_of: date, loan_ids: Sequence[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    if not loan_ids:
        return {}
    t = post_loan_snapshots
    out: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    query = (select(t.c.loan_id, t.c.source, t.c.payload).where(t.c.loan_id.in_(loan_ids), t.c.as_of <= as_of)
             .order_by(t.c.loan_id, t.c.source, t.c.as_of))
    for r in conn.execute(query):
        out[r.loan_id][r.source].append(r.payload)
    return out


def book_frame(conn: Connection, as_of: date, loan_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """The book as one frame: rows_frame(book_rows(...)), built columnar from three set queries, for a
    whole-book run. Live loans are selected by a join in each query, not by a list of ids."""
    live = _live(loan_ids)
    book = _read(conn, select(*(loans.c[name] for name in LOAN_FRAME_SCHEMA)).where(live)
                 .order_by(loans.c.loan_id), LOAN_FRAME_SCHEMA)
    i, t = installments, post_loan_snapshots
    due = (select(i.c.loan_id, _text(i.c.due_date), _settled().label("settled"))
           .join(loans, loans.c.loan_id == i.c.loan_id))
    # the payload as JSON text: polars decodes it once per snapshot, not the driver into dicts
    dated = (select(t.c.loan_id, t.c.source, _text(t.c.as_of), _text(t.c.payload))
             .join(loans, loans.c.loan_id == t.c.loan_id))
    frame = book_features(book, _read(conn, due.where(live, i.c.due_date < as_of), INSTALLMENT_FRAME_SCHEMA),
                          _read(conn, dated.where(live, t.c.as_of <= as_of), SNAPSHOT_FRAME_SCHEMA), as_of)
    assert frame["loan_id"].equals(book["loan_id"]), "one row per live loan, in loan_id order"
    return frame


def _live(loan_ids: Sequence[str] | None) -> ColumnElement[bool]:
    live = loans.c.status.in_([s.value for s in LIVE_STATUSES])
    return live if loan_ids is None else and_(live, loans.c.loan_id.in_(loan_ids))


def _settled() -> ColumnElement[bool]:
    i = installments
    return and_(i.c.principal_paid_minor >= i.c.principal_minor, i.c.interest_paid_minor >= i.c.interest_minor,
                i.c.fee_paid_minor >= i.c.fee_minor)


def _text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """Dates as ISO text and JSON as text, parsed by polars: a Python date or dict per row costs more
    than everything else of book_frame."""
    return cast(column, Text).label(str(getattr(column, "name", "")))


def _read(conn: Connection, query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """A result set as a frame; strict=False lets SQLite's 0/1 become booleans; dates come as ISO text."""
    text_schema = {name: pl.Utf8 if dtype == pl.Date else dtype for name, dtype in schema.items()}
    frame = pl.DataFrame(conn.execute(query).all(), schema=text_schema, orient="row", strict=False)
    return frame.with_columns(pl.col(n).str.to_date("%Y-%m-%d") for n, d in schema.items() if d == pl.Date)


# --------------------------------------------------------------------------- runs and alerts


def run(engine: Engine, as_of: date, indicators: IndicatorSet | None = None) -> dict[str, Any]:
    """Evaluate the whole book as of a date (columnar). Idempotent per date: alerts already raised are kept
    as they are (with their lifecycle), only new ones are stored and announced."""
    ind = indicators or load_indicators()
    with UnitOfWork(engine) as uow:
        frame = book_frame(uow.connection, as_of)
        alerts = evaluate(ind, frame, as_of)
        new = _store_alerts(uow, alerts)
    by_severity: dict[str, int] = defaultdict(int)
    for alert in alerts:
        by_severity[alert.severity] += 1
    return {"as_of": as_of.isoformat(), "indicator_set": ind.version, "loans": frame.height, "alerts": len(alerts),
            "new_alerts": len(new), "by_severity": dict(sorted(by_severity.items()))}


def check_loan(engine: Engine, loan_id: str, as_of: date, indicators: IndicatorSet | None = None) -> list[Alert]:
    """Online: one loan through the row evaluators (on arriving data); new alerts are stored like a run's."""
    ind = indicators or load_indicators()
    with UnitOfWork(engine) as uow:
        rows = book_rows(uow.connection, as_of, [loan_id])
        alerts = evaluate_row(ind, rows[0], as_of) if rows else []
        _store_alerts(uow, alerts)
    return alerts


def _store_alerts(uow: UnitOfWork, alerts: Sequence[Alert]) -> list[Alert]:
    """Store the alerts not yet raised. A condition that is still true on the next run is the SAME
    alert, not a new one: while a (loan, indicator) alert is not closed, only a higher severity raises
    another (otherwise a daily run would re-raise every standing condition every day)."""
    ids = [a.alert_id for a in alerts]
    existing = set(uow.connection.execute(select(ew_alerts.c.alert_id).where(ew_alerts.c.alert_id.in_(ids))).scalars()
                   ) if ids else set()
    standing = _standing_severity(uow, sorted({a.loan_id for a in alerts}))
    new = [a for a in alerts if a.alert_id not in existing
           and SEVERITIES.index(a.severity) > standing.get((a.loan_id, a.indicator), -1)]
    if not new:
        return []
    now = datetime.now(UTC)
    uow.connection.execute(insert(ew_alerts), [_alert_values(a, now) for a in new])
    uow.outbox.add_many(_raised_event(a, now) for a in new)
    return new


def _standing_severity(uow: UnitOfWork, loan_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    """The highest severity rank of the not-closed alerts per (loan, indicator)."""
    standing: dict[tuple[str, str], int] = {}
    for start in range(0, len(loan_ids), IN_CHUNK):
        rows = uow.connection.execute(
            select(ew_alerts.c.loan_id, ew_alerts.c.indicator, ew_alerts.c.severity)
            .where(ew_alerts.c.loan_id.in_(loan_ids[start:start + IN_CHUNK]), ew_alerts.c.status != "closed"))
        for loan_id, indicator, severity in rows:
            rank = SEVERITIES.index(severity)
            standing[(loan_id, indicator)] = max(rank, standing.get((loan_id, indicator), -1))
    return standing


def _alert_values(alert: Alert, now: datetime) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id, "loan_id": alert.loan_id, "indicator": alert.indicator,
        "severity": alert.severity, "as_of": alert.as_of, "evidence": alert.evidence, "actions": list(alert.actions),
        "status": "open", "assignee": "", "created_at": now, "updated_at": now,
        "history": [{"action": "raise", "by": "system", "at": now.isoformat(), "to": "open"}],
    }


def _raised_event(alert: Alert, now: datetime) -> DomainEvent:
    return DomainEvent.new(ALERT_RAISED, "loan", alert.loan_id, {
        "alert_id": alert.alert_id, "indicator": alert.indicator, "severity": alert.severity,
        "as_of": alert.as_of.isoformat(), "actions": list(alert.actions), "evidence": alert.evidence,
    }, occurred_at=now)


def list_alerts(engine: Engine, *, status: str | None = None, loan_id: str | None = None,
                limit: int = ALERT_LIST_MAX) -> list[dict[str, Any]]:
    query = select(ew_alerts).order_by(ew_alerts.c.as_of.desc(), ew_alerts.c.loan_id, ew_alerts.c.indicator)
    if status is not None:
        query = query.where(ew_alerts.c.status == status)
    if loan_id is not None:
        query = query.where(ew_alerts.c.loan_id == loan_id)
    with engine.connect() as conn:
        return [_alert_json(dict(r._mapping)) for r in conn.execute(query.limit(limit))]


def _alert_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "as_of": row["as_of"].isoformat(), "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat()}


def act(engine: Engine, alert_id: str, command: str, by: str, *, assignee: str = "", note: str = "") -> dict[str, Any]:
    """acknowledge | assign | close an alert, recording who and when in its history."""
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        query = select(ew_alerts).where(ew_alerts.c.alert_id == alert_id)
        if uow.connection.dialect.name == "postgresql":  # two staff acting at once must not lose a history entry
            query = query.with_for_update()
        row = uow.connection.execute(query).first()
        if row is None:
            raise EarlyWarningError("alert_id", f"unknown alert {alert_id!r}")
        status, entry = transition(row.status, command, by, now, assignee=assignee, note=note)
        values = {"status": status, "history": [*row.history, entry], "updated_at": now,
                  "assignee": assignee if command == "assign" else row.assignee}
        uow.connection.execute(update(ew_alerts).where(ew_alerts.c.alert_id == alert_id).values(**values))
    return _alert_json({**dict(row._mapping), **values})
