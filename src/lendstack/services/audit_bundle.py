"""The quarterly audit bundle: fairness of the quarter's decisions, model drift, and the
data-security checks (who changed what through the API, which keys and roles were used, which
keys were created and revoked).

What the API and the console record: every state-changing call (any method but GET/HEAD/OPTIONS),
allowed or refused, and every read of personal data (api.permissions.PERSONAL_DATA_READS) leave an
`api_audit` row; the bundle reports both, reads separately (who accessed personal data).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from lendstack.services.report_data import (
    ReportDataError,
    fairness_data,
    models_data,
    now_iso,
    report_day,
    worst,
)
from lendstack.store.tables_api import api_audit, api_keys

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


def security_checks(engine: Engine, first: date, last: date) -> dict[str, Any]:
    """State-changing API calls in [first, last] by role, key, status and route; key lifecycle."""
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, UTC)
    a = api_audit.c
    query = (select(a.key_id, a.role, a.partner_id, a.method, a.path, a.status, a.client)
             .where(a.at >= start, a.at < end).limit(AUDIT_ROWS_MAX + 1))
    with engine.connect() as conn:
        calls = list(conn.execute(query).all())
        keys = list(conn.execute(select(api_keys.c.key_id, api_keys.c.role, api_keys.c.partner_id, api_keys.c.label,
                                   api_keys.c.created_at, api_keys.c.revoked_at)).all())
    if len(calls) > AUDIT_ROWS_MAX:
        raise ReportDataError("quarter", f"more than {AUDIT_ROWS_MAX} audited calls in the quarter; "
                              "split the period")
    return {"calls": _calls_summary(calls), "keys": _keys_summary(keys, start, end),
            "personal_data_prefixes": list(PERSONAL_DATA_PREFIXES),
            "read_access_logged": True,
            "note": "the audit trail records every state-changing call and every read of personal data"}


def _route(path: str) -> str:
    """/v1/loans/L1/repay → /v1/loans/{id}/repay: one row per route, not per loan (the API's
    resources all sit at /v1/<collection>/<id>/...)."""
    parts = path.split("/")
    if len(parts) > 3 and parts[3]:
        parts[3] = "{id}"
    return "/".join(parts)


def _calls_summary(calls: list[Any]) -> dict[str, Any]:
    personal = [c for c in calls if c.path.startswith(PERSONAL_DATA_PREFIXES)]
    by_key: Counter[tuple[str, str, str]] = Counter((c.key_id or "(unauthenticated)", c.role, c.partner_id)
                                                    for c in calls)
    routes: Counter[tuple[str, str]] = Counter((c.method, _route(c.path)) for c in calls)
    return {
        "total": len(calls), "personal_data": len(personal),
        "personal_data_reads": sum(1 for c in personal if c.method in ("GET", "HEAD")),
        "personal_data_readers": sorted({c.key_id for c in personal if c.method in ("GET", "HEAD") and c.key_id}),
        "refused": sum(1 for c in calls if c.status in (401, 403)),
        "unauthenticated": sum(1 for c in calls if not c.key_id),
        "server_errors": sum(1 for c in calls if c.status >= 500),
        "by_role": dict(sorted(Counter(c.role or "(none)" for c in calls).items())),
        "by_status": {str(k): v for k, v in sorted(Counter(c.status for c in calls).items())},
        "by_key": [{"key_id": k, "role": r, "partner_id": p, "calls": n} for (k, r, p), n in by_key.most_common()],
        "routes": [{"method": m, "route": r, "calls": n} for (m, r), n in routes.most_common(TOP_PATHS)],
        "clients": len({c.client for c in calls}),
    }


def _keys_summary(keys: list[Any], start: datetime, end: datetime) -> dict[str, Any]:
    def inside(at: datetime | None) -> bool:
        return at is not None and start <= _utc(at) < end

    created = [k for k in keys if inside(k.created_at)]
    revoked = [k for k in keys if inside(k.revoked_at)]
    active = [k for k in keys if _utc(k.created_at) < end and (k.revoked_at is None or _utc(k.revoked_at) >= end)]
    return {
        "created": [_key_row(k) for k in created], "revoked": [_key_row(k) for k in revoked],
        "active_at_end": len(active), "active_by_role": dict(sorted(Counter(k.role for k in active).items())),
    }


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _key_row(k: Any) -> dict[str, Any]:
    return {"key_id": k.key_id, "role": k.role, "partner_id": k.partner_id, "label": k.label,
            "created_at": _utc(k.created_at).isoformat(timespec="seconds"),
            "revoked_at": _utc(k.revoked_at).isoformat(timespec="seconds") if k.revoked_at else None}


def audit_bundle(engine: Engine, as_of: date | None = None, *, quarter: str | None = None,
                 registry_dir: str | Path | None = None) -> dict[str, Any]:
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
    flagged = (fairness.get("audit") or {}).get("flagged_groups", [])
    statuses = [models["status"] if models else "insufficient_data", "alert" if flagged else "stable"]
    return {
        "kind": "audit", "generated_at": now_iso(), "quarter": name, "from": first.isoformat(), "to": last.isoformat(),
        "status": worst(statuses), "fairness": fairness,
        "drift": models["drift"] if models else None, "realized": models["realized"] if models else None,
        "model": models["model"] if models else None, "models_note": models_note, "security": security,
    }
