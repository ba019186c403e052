"""The quarterly audit bundle: fairness of the quarter's decisions, model drift, and the
data-security checks (who changed what through the API, which keys and roles were used, which
keys were created and revoked).

What the API and the console record: every state-changing call (any method but GET/HEAD/OPTIONS),
allowed or refused, and every read of personal data (api.permissions.PERSONAL_DATA_READS) leave an
`api_audit` row; the bundle reports both, reads separately (who accessed personal data).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from lendstack.services.report_data import (
    FairnessReport,
    ReportDataError,
    fairness_data,
    models_data,
    now_iso,
    report_day,
    worst,
)
from lendstack.store import Engine
from lendstack.store.report_repo import ApiKeyRecord, AuditedCall, ReportRepository

# Routes whose calls read or change personal data (applicants, applications, loans, repayments).
PERSONAL_DATA_PREFIXES = ("/v1/applications", "/v1/applicants", "/v1/loans", "/v1/offers",
                          "/console/applications", "/console/reviews", "/console/loans", "/console/collections")
AUDIT_ROWS_MAX = 1_000_000  # rows read per quarter; a larger trail is summarised in SQL first
TOP_PATHS = 20


def quarter_of(day: date) -> tuple[str, date, date]:
    """('2026Q1', first day, last day) of the calendar quarter holding `day`."""
    q = (day.month - 1) // 3
    first = date(day.year, 3 * q + 1, 1)
    after = date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    return f"{day.year}Q{q + 1}", first, after - timedelta(days=1)


def parse_quarter(text: str) -> date:
    """'2026Q1' or '2026-Q1' → the quarter's first day; a clear error otherwise."""
    cleaned = text.strip().upper().replace("-", "")
    year, _, q = cleaned.partition("Q")
    if not (year.isdigit() and len(year) == 4 and q in ("1", "2", "3", "4")):
        raise ReportDataError("quarter", f"expected YYYYQn such as 2026Q1, got {text!r}")
    return date(int(year), 3 * (int(q) - 1) + 1, 1)


@dataclass(frozen=True, slots=True)
class KeyCalls:
    key_id: str  # "(unauthenticated)" for calls no key authenticated
    role: str
    partner_id: str
    calls: int

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "role": self.role, "partner_id": self.partner_id, "calls": self.calls}


@dataclass(frozen=True, slots=True)
class RouteCalls:
    method: str
    route: str  # the path with its resource id replaced by {id}
    calls: int

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "route": self.route, "calls": self.calls}


@dataclass(frozen=True, slots=True)
class CallsSummary:
    """The audited calls of a period: how many touched personal data, were refused or failed, by
    role, status, key (most calls first) and route (the TOP_PATHS busiest)."""

    total: int
    personal_data: int
    personal_data_reads: int
    personal_data_readers: tuple[str, ...]
    refused: int
    unauthenticated: int
    server_errors: int
    by_role: dict[str, int]
    by_status: dict[str, int]
    by_key: tuple[KeyCalls, ...]
    routes: tuple[RouteCalls, ...]
    clients: int

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total, "personal_data": self.personal_data,
            "personal_data_reads": self.personal_data_reads,
            "personal_data_readers": list(self.personal_data_readers), "refused": self.refused,
            "unauthenticated": self.unauthenticated, "server_errors": self.server_errors, "by_role": self.by_role,
            "by_status": self.by_status, "by_key": [k.to_json() for k in self.by_key],
            "routes": [r.to_json() for r in self.routes], "clients": self.clients,
        }


@dataclass(frozen=True, slots=True)
class KeyLifecycle:
    """API keys created and revoked in a period, and those active at its end (by role)."""

    created: tuple[ApiKeyRecord, ...]
    revoked: tuple[ApiKeyRecord, ...]
    active_at_end: int
    active_by_role: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"created": [_key_row(k) for k in self.created], "revoked": [_key_row(k) for k in self.revoked],
                "active_at_end": self.active_at_end, "active_by_role": self.active_by_role}


@dataclass(frozen=True, slots=True)
class SecurityChecks:
    calls: CallsSummary
    keys: KeyLifecycle

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls.to_json(), "keys": self.keys.to_json(),
                "personal_data_prefixes": list(PERSONAL_DATA_PREFIXES), "read_access_logged": True,
                "note": "the audit trail records every state-changing call and every read of personal data"}


def security_checks(engine: Engine, first: date, last: date) -> SecurityChecks:
    """State-changing API calls in [first, last] by role, key, status and route; key lifecycle."""
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, UTC)
    with engine.connect() as conn:
        repo = ReportRepository(conn)
        calls = repo.audited_calls(start, end, AUDIT_ROWS_MAX + 1)
        keys = repo.api_keys()
    if len(calls) > AUDIT_ROWS_MAX:
        raise ReportDataError("quarter", f"more than {AUDIT_ROWS_MAX} audited calls in the quarter; "
                              "split the period")
    return SecurityChecks(calls_summary(calls), key_lifecycle(keys, start, end))


def _route(path: str) -> str:
    """/v1/loans/L1/repay → /v1/loans/{id}/repay: one row per route, not per loan (the API's
    resources all sit at /v1/<collection>/<id>/...)."""
    parts = path.split("/")
    if len(parts) > 3 and parts[3]:
        parts[3] = "{id}"
    return "/".join(parts)


def calls_summary(calls: list[AuditedCall]) -> CallsSummary:
    personal = [c for c in calls if c.path.startswith(PERSONAL_DATA_PREFIXES)]
    by_key: Counter[tuple[str, str, str]] = Counter((c.key_id or "(unauthenticated)", c.role, c.partner_id)
                                                    for c in calls)
    routes: Counter[tuple[str, str]] = Counter((c.method, _route(c.path)) for c in calls)
    return CallsSummary(
        total=len(calls), personal_data=len(personal),
        personal_data_reads=sum(1 for c in personal if c.method in ("GET", "HEAD")),
        personal_data_readers=tuple(sorted({c.key_id for c in personal if c.method in ("GET", "HEAD") and c.key_id})),
        refused=sum(1 for c in calls if c.status in (401, 403)),
        unauthenticated=sum(1 for c in calls if not c.key_id),
        server_errors=sum(1 for c in calls if c.status >= 500),
        by_role=dict(sorted(Counter(c.role or "(none)" for c in calls).items())),
        by_status={str(k): v for k, v in sorted(Counter(c.status for c in calls).items())},
        by_key=tuple(KeyCalls(k, r, p, n) for (k, r, p), n in by_key.most_common()),
        routes=tuple(RouteCalls(m, r, n) for (m, r), n in routes.most_common(TOP_PATHS)),
        clients=len({c.client for c in calls}),
    )


def key_lifecycle(keys: list[ApiKeyRecord], start: datetime, end: datetime) -> KeyLifecycle:
    def inside(at: datetime | None) -> bool:
        return at is not None and start <= _utc(at) < end

    active = [k for k in keys if _utc(k.created_at) < end and (k.revoked_at is None or _utc(k.revoked_at) >= end)]
    return KeyLifecycle(
        created=tuple(k for k in keys if inside(k.created_at)), revoked=tuple(k for k in keys if inside(k.revoked_at)),
        active_at_end=len(active), active_by_role=dict(sorted(Counter(k.role for k in active).items())))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _key_row(k: ApiKeyRecord) -> dict[str, Any]:
    return {"key_id": k.key_id, "role": k.role, "partner_id": k.partner_id, "label": k.label,
            "created_at": _utc(k.created_at).isoformat(timespec="seconds"),
            "revoked_at": _utc(k.revoked_at).isoformat(timespec="seconds") if k.revoked_at else None}


@dataclass(frozen=True, slots=True)
class AuditBundle:
    """The quarter's audit report; `to_json()` is the document `reporting.render_*("audit", ...)` renders.
    The model sections are `models_data`'s documents as they come."""

    generated_at: str
    quarter: str
    first: str  # "from" in the document
    last: str  # "to" in the document
    status: str
    fairness: FairnessReport
    drift: dict[str, Any] | None
    realized: dict[str, Any] | None
    model: dict[str, Any] | None
    models_note: str
    security: SecurityChecks

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "audit", "generated_at": self.generated_at, "quarter": self.quarter, "from": self.first,
            "to": self.last, "status": self.status, "fairness": self.fairness.to_json(), "drift": self.drift,
            "realized": self.realized, "model": self.model, "models_note": self.models_note,
            "security": self.security.to_json(),
        }


def audit_bundle(engine: Engine, as_of: date | None = None, *, quarter: str | None = None,
                 registry_dir: str | Path | None = None) -> AuditBundle:
    """The bundle for the quarter named (2026Q1) or holding `as_of` (default: the book date)."""
    day = parse_quarter(quarter) if quarter else report_day(engine, as_of)
    name, first, last = quarter_of(day)
    fairness = fairness_data(engine, last, "gender", since=first)
    try:
        models: dict[str, Any] | None = models_data(engine, last, registry_dir)
        models_note = ""
    except ReportDataError as exc:  # no model in the registry: the rest of the audit still stands
        models, models_note = None, exc.message
    security = security_checks(engine, first, last)
    flagged = (fairness.audit or {}).get("flagged_groups", [])
    statuses = [models["status"] if models else "insufficient_data", "alert" if flagged else "stable"]
    return AuditBundle(
        generated_at=now_iso(), quarter=name, first=first.isoformat(), last=last.isoformat(),
        status=worst(statuses), fairness=fairness,
        drift=models["drift"] if models else None, realized=models["realized"] if models else None,
        model=models["model"] if models else None, models_note=models_note, security=security,
    )
