"""Post-loan data through the API: stored all or nothing with fingerprints, early warning runs on
arrival for the loans touched, a partner may feed only its own loans, bad batches name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from conftest import API, auth
from lendstack.store.tables_monitoring import ew_alerts, post_loan_snapshots


def _revenue_batch(loan_id: str, last_month_minor: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=30 * k) for k in range(5, -1, -1)]  # six monthly snapshots, the last today
    revenue = [100_000_00] * 5 + [last_month_minor]
    return {"records": [{"loan_id": loan_id, "source": "pos", "as_of": d.isoformat(),
                         "payload": {"revenue_minor": r, "cost_minor": r * 6 // 10}}
                        for d, r in zip(days, revenue, strict=True)]}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_revenue_drop_arrives_and_raises_an_alert_at_once(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), _application_id, loan_id = booked
    batch = _revenue_batch(loan_id, 30_000_00)
    answer = client.post("/v1/post-loan-data", json=batch, headers=auth(tokens["partner"], "pld-1"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["records"], body["stored"]) == (6, 6)
    assert ("revenue_drop", loan_id) in {(a["indicator"], a["loan_id"]) for a in body["alerts"]}
    assert _count(engine, post_loan_snapshots) == 6 and _count(engine, ew_alerts) >= 1
    again = client.post("/v1/post-loan-data", json=batch, headers=auth(tokens["partner"], "pld-1"))
    assert again.status_code == 201 and again.json() == body  # a retry replays; nothing stored twice
    assert _count(engine, post_loan_snapshots) == 6


def test_another_partner_or_a_bad_batch_changes_nothing(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), _application_id, loan_id = booked
    foreign = client.post("/v1/post-loan-data", json=_revenue_batch(loan_id, 30_000_00),
                          headers=auth(tokens["partner2"], "pld-2"))
    assert foreign.status_code == 404 and foreign.json()["field"] == "records.loan_id"
    unknown = client.post("/v1/post-loan-data", json=_revenue_batch("L-nope", 30_000_00),
                          headers=auth(tokens["risk_manager"], "pld-3"))
    assert unknown.status_code == 422 and "loan_id" in unknown.json()["field"]
    batch = _revenue_batch(loan_id, 30_000_00)
    batch["records"][3]["payload"] = {"revenue_minor": -5}
    bad = client.post("/v1/post-loan-data", json=batch, headers=auth(tokens["risk_manager"], "pld-4"))
    assert bad.status_code == 422 and bad.json()["field"].startswith("records[3]")
    empty = client.post("/v1/post-loan-data", json={"records": []}, headers=auth(tokens["risk_manager"], "pld-5"))
    assert empty.status_code == 422 and empty.json()["field"] == "records"
    assert _count(engine, post_loan_snapshots) == 0 and _count(engine, ew_alerts) == 0
