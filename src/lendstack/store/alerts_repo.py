"""Early warning's storage: post-loan snapshots, the book as early warning reads it, and the alerts
with their lifecycle. The SQL of services/early_warning.py.

Reads come back as frozen records, plain values or polars frames (the columnar whole-book path:
three set queries, dates and JSON as text, parsed by polars); the rules (what is late, what
conflicts, which alert is new, how an alert moves) are the service's and monitoring's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, Text, and_, cast, func, insert, select, update

from lendstack.invariants import check
from lendstack.monitoring.alerts import AlertRecord
from lendstack.monitoring.early_warning import (
    INSTALLMENT_FRAME_SCHEMA,
    LOAN_FRAME_SCHEMA,
    SNAPSHOT_FRAME_SCHEMA,
    PostLoanRecord,
)
from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store.balance_sql import principal_outstanding_minor
from lendstack.store.tables import installments, loans
from lendstack.store.tables_monitoring import ew_alerts, post_loan_snapshots

IN_CHUNK = 500  # loan ids per IN (...) query: SQLite and PostgreSQL both take this comfortably
ALERTS_MAX = 1_000  # alerts listed at once


@dataclass(frozen=True, slots=True)
class LiveLoan:
    """What early warning reads of a live loan's servicing state."""

    loan_id: str
    status: str
    days_past_due: int
    bucket: str
    restructure_count: int
    principal_outstanding_minor: int  # balance_sql.principal_outstanding_minor


@dataclass(frozen=True, slots=True)
class BookFrames:
    """The whole-book inputs of monitoring.early_warning.book_features, live loans only."""

    loans: pl.DataFrame  # LOAN_FRAME_SCHEMA, in loan_id order
    installments: pl.DataFrame  # INSTALLMENT_FRAME_SCHEMA, due before as_of
    snapshots: pl.DataFrame  # SNAPSHOT_FRAME_SCHEMA, dated on or before as_of


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start:start + IN_CHUNK]


class AlertsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ------------------------------------------------------------------ post-loan snapshots

    def known_loans(self, loan_ids: Iterable[str]) -> set[str]:
        """Which of the loan ids exist (live or not)."""
        wanted = set(loan_ids)
        if not wanted:
            return set()
        query = select(loans.c.loan_id).where(loans.c.loan_id.in_(wanted))
        return {str(i) for i in self.connection.execute(query).scalars()}

    def snapshot_fingerprints(self, loan_ids: Iterable[str]) -> dict[tuple[str, str, date], str]:
        """(loan, source, as_of) -> fingerprint of every stored snapshot of the loans."""
        wanted = set(loan_ids)
        if not wanted:
            return {}
        t = post_loan_snapshots.c
        rows = self.connection.execute(select(t.loan_id, t.source, t.as_of, t.fingerprint)
                                       .where(t.loan_id.in_(wanted)))
        return {(r.loan_id, r.source, r.as_of): r.fingerprint for r in rows}

    def latest_snapshot_dates(self, loan_ids: Iterable[str]) -> dict[tuple[str, str], date]:
        """(loan, source) -> the newest as_of stored."""
        wanted = set(loan_ids)
        if not wanted:
            return {}
        t = post_loan_snapshots.c
        rows = self.connection.execute(select(t.loan_id, t.source, func.max(t.as_of).label("latest"))
                                       .where(t.loan_id.in_(wanted)).group_by(t.loan_id, t.source))
        return {(r.loan_id, r.source): r.latest for r in rows}

    def add_snapshots(self, records: Sequence[PostLoanRecord], received_at: datetime) -> None:
        if not records:
            return
        self.connection.execute(insert(post_loan_snapshots), [
            {"loan_id": r.loan_id, "source": r.source, "as_of": r.as_of, "payload": r.payload,
             "fingerprint": r.fingerprint, "received_at": received_at} for r in records
        ])

    # ------------------------------------------------------------------ the book, row by row

    def live_loans(self, loan_ids: Sequence[str] | None = None) -> list[LiveLoan]:
        """The live loans (all, or those of `loan_ids`), in loan_id order."""
        c = loans.c
        query = (select(c.loan_id, c.status, c.days_past_due, c.bucket, c.restructure_count,
                        principal_outstanding_minor().label("principal_outstanding_minor"))
                 .where(c.status.in_([s.value for s in LIVE_STATUSES])).order_by(c.loan_id))
        if loan_ids is not None:
            query = query.where(c.loan_id.in_(loan_ids))
        return [LiveLoan(str(r.loan_id), str(r.status), int(r.days_past_due), str(r.bucket), int(r.restructure_count),
                         int(r.principal_outstanding_minor))
                for r in self.connection.execute(query).all()]

    def due_and_settled(self, loan_ids: Sequence[str]) -> dict[str, list[tuple[date, bool]]]:
        """Per loan: each installment's due date and whether it is paid in full."""
        if not loan_ids:
            return {}
        i = installments.c
        out: dict[str, list[tuple[date, bool]]] = defaultdict(list)
        query = select(i.loan_id, i.due_date, _settled().label("settled")).where(i.loan_id.in_(loan_ids))
        for r in self.connection.execute(query):
            out[r.loan_id].append((r.due_date, bool(r.settled)))
        return out

    def histories(self, as_of: date, loan_ids: Sequence[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Per loan and source: the payloads dated on or before `as_of`, oldest first."""
        if not loan_ids:
            return {}
        t = post_loan_snapshots.c
        out: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        query = (select(t.loan_id, t.source, t.payload).where(t.loan_id.in_(loan_ids), t.as_of <= as_of)
                 .order_by(t.loan_id, t.source, t.as_of))
        for r in self.connection.execute(query):
            out[r.loan_id][r.source].append(r.payload)
        return out

    # ------------------------------------------------------------------ the book, columnar

    def book_frames(self, as_of: date, loan_ids: Sequence[str] | None = None) -> BookFrames:
        """Three set queries; live loans are selected by a join in each, not by a list of ids."""
        live = _live(loan_ids)
        book = _read(self.connection, select(*(loans.c[name] for name in LOAN_FRAME_SCHEMA)).where(live)
                     .order_by(loans.c.loan_id), LOAN_FRAME_SCHEMA)
        i, t = installments, post_loan_snapshots
        due = (select(i.c.loan_id, _text(i.c.due_date), _settled().label("settled"))
               .join(loans, loans.c.loan_id == i.c.loan_id))
        # the payload as JSON text: polars decodes it once per snapshot, not the driver into dicts
        dated = (select(t.c.loan_id, t.c.source, _text(t.c.as_of), _text(t.c.payload))
                 .join(loans, loans.c.loan_id == t.c.loan_id))
        return BookFrames(book, _read(self.connection, due.where(live, i.c.due_date < as_of), INSTALLMENT_FRAME_SCHEMA),
                          _read(self.connection, dated.where(live, t.c.as_of <= as_of), SNAPSHOT_FRAME_SCHEMA))

    # ------------------------------------------------------------------ alerts

    def existing_alert_ids(self, alert_ids: Sequence[str]) -> set[str]:
        if not alert_ids:
            return set()
        query = select(ew_alerts.c.alert_id).where(ew_alerts.c.alert_id.in_(alert_ids))
        return {str(a) for a in self.connection.execute(query).scalars()}

    def standing(self, loan_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(loan_id, indicator, severity) of every alert of the loans that is not closed."""
        out: list[tuple[str, str, str]] = []
        for chunk in _chunks(loan_ids):
            rows = self.connection.execute(
                select(ew_alerts.c.loan_id, ew_alerts.c.indicator, ew_alerts.c.severity)
                .where(ew_alerts.c.loan_id.in_(chunk), ew_alerts.c.status != "closed"))
            out.extend((str(loan_id), str(indicator), str(severity)) for loan_id, indicator, severity in rows)
        return out

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        if not alerts:
            return
        self.connection.execute(insert(ew_alerts), [_values(a) for a in alerts])

    def alerts(self, *, status: str | None = None, loan_id: str | None = None,
               limit: int = ALERTS_MAX) -> list[AlertRecord]:
        """Newest as_of first, then by loan and indicator."""
        check(0 < limit <= ALERTS_MAX, f"limit in 1..{ALERTS_MAX}")
        query = select(ew_alerts).order_by(ew_alerts.c.as_of.desc(), ew_alerts.c.loan_id, ew_alerts.c.indicator)
        if status is not None:
            query = query.where(ew_alerts.c.status == status)
        if loan_id is not None:
            query = query.where(ew_alerts.c.loan_id == loan_id)
        return [_alert(r._mapping) for r in self.connection.execute(query.limit(limit))]

    def alert(self, alert_id: str, *, for_update: bool = False) -> AlertRecord | None:
        """One alert; for_update locks it on PostgreSQL (two staff acting at once must not lose a
        history entry; SQLite serialises writers already)."""
        query = select(ew_alerts).where(ew_alerts.c.alert_id == alert_id)
        if for_update and self.connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.connection.execute(query).first()
        return None if row is None else _alert(row._mapping)

    def save_lifecycle(self, alert: AlertRecord) -> None:
        """Write what acting on an alert changes: status, assignee, history, updated_at."""
        result = self.connection.execute(update(ew_alerts).where(ew_alerts.c.alert_id == alert.alert_id).values(
            status=alert.status, history=alert.history, updated_at=alert.updated_at, assignee=alert.assignee))
        check(result.rowcount == 1, f"alert {alert.alert_id!r} is stored")


def _values(alert: AlertRecord) -> dict[str, Any]:
    return {"alert_id": alert.alert_id, "loan_id": alert.loan_id, "indicator": alert.indicator,
            "severity": alert.severity, "as_of": alert.as_of, "evidence": alert.evidence, "actions": alert.actions,
            "status": alert.status, "assignee": alert.assignee, "created_at": alert.created_at,
            "updated_at": alert.updated_at, "history": alert.history}


def _alert(row: Any) -> AlertRecord:
    return AlertRecord(row["alert_id"], row["loan_id"], row["indicator"], row["severity"], row["as_of"],
                       row["evidence"], row["actions"], row["status"], row["assignee"], row["history"],
                       row["created_at"], row["updated_at"])


def _live(loan_ids: Sequence[str] | None) -> ColumnElement[bool]:
    live = loans.c.status.in_([s.value for s in LIVE_STATUSES])
    return live if loan_ids is None else and_(live, loans.c.loan_id.in_(loan_ids))


def _settled() -> ColumnElement[bool]:
    i = installments
    return and_(i.c.principal_paid_minor >= i.c.principal_minor, i.c.interest_paid_minor >= i.c.interest_minor,
                i.c.fee_paid_minor >= i.c.fee_minor)


def _text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """Dates as ISO text and JSON as text, parsed by polars: a Python date or dict per row costs more
    than everything else of book_frames."""
    return cast(column, Text).label(str(getattr(column, "name", "")))


def _read(conn: Connection, query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """A result set as a frame; strict=False lets SQLite's 0/1 become booleans; dates come as ISO text."""
    text_schema = {name: pl.Utf8 if dtype == pl.Date else dtype for name, dtype in schema.items()}
    frame = pl.DataFrame(conn.execute(query).all(), schema=text_schema, orient="row", strict=False)
    return frame.with_columns(pl.col(n).str.to_date("%Y-%m-%d") for n, d in schema.items() if d == pl.Date)
