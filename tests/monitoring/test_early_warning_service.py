"""Early warning against the database (SQLite and PostgreSQL): ingestion is all-or-nothing, planted risks
raise the right alerts with evidence, runs are idempotent per date, the alert lifecycle is recorded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.money import Money
from lendstack.monitoring.early_warning import EarlyWarningError
from lendstack.services import early_warning as ew
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.store.tables import outbox
from lendstack.store.tables_monitoring import ew_alerts, post_loan_snapshots

ON = date(2026, 3, 10)
RUN_ON = date(2026, 4, 5)  # before the first due date: servicing is clean, only the data speaks
MONTHS = [date(2025, m, 28) for m in range(10, 13)] + [date(2026, m, 28) for m in range(1, 4)]


def active_loan(engine: Engine, loan_id: str) -> str:
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12,
              on=ON, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    return loan_id


def rec(loan_id: str, source: str, as_of: date, **payload: Any) -> dict[str, Any]:
    return {"loan_id": loan_id, "source": source, "as_of": as_of.isoformat(), "payload": payload}


def clean_data(loan_id: str, revenue: list[int] | None = None, open_loans: tuple[int, int] = (2, 2),
               devices: tuple[str, str] = ("dev-a", "dev-a")) -> list[dict[str, Any]]:
    """Six months of steady business, two bureau refreshes, two telematics and device snapshots."""
    revenue = revenue or [100_000_00] * 6
    records = [rec(loan_id, "pos", d, revenue_minor=r, cost_minor=r * 6 // 10) for d, r in zip(MONTHS, revenue,
                                                                                                strict=True)]
    for d, loans_open, device in zip((MONTHS[-2], MONTHS[-1]), open_loans, devices, strict=True):
        records.append(rec(loan_id, "bureau", d, open_loans=loans_open, inquiries_6m=1, utilisation=0.3))
        records.append(rec(loan_id, "telematics", d, region_exits=0, mileage_km=1200))
        records.append(rec(loan_id, "device", d, device_id=device))
    records.append(rec(loan_id, "tax", MONTHS[-1], arrears_minor=0))
    return records


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(post_loan_snapshots)).scalar_one())


def alerts_by_loan(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for a in [a.to_json() for a in ew.alerts(engine)]:
        out.setdefault(a["loan_id"], []).append((a["indicator"], a["severity"]))
    return {k: sorted(v) for k, v in out.items()}


def test_ingest_stores_a_batch_and_a_resend_changes_nothing(engine: Engine) -> None:
    active_loan(engine, "L1")
    batch = clean_data("L1")
    assert ew.ingest_batch(engine, batch).to_json() == {"records": len(batch), "stored": len(batch), "unchanged": 0}
    assert ew.ingest_batch(engine, batch).to_json() == {"records": len(batch), "stored": 0, "unchanged": len(batch)}
    assert stored(engine) == len(batch)


BAD: list[tuple[str, Any, str, str]] = [
    ("unknown loan", rec("NOPE", "tax", MONTHS[-1], arrears_minor=0), "records[1].loan_id", "NOPE"),
    ("back-dated", rec("L1", "pos", MONTHS[0], revenue_minor=1, cost_minor=0), "records[1].as_of",
     MONTHS[0].isoformat()),
    ("malformed payload", rec("L1", "bureau", RUN_ON, open_loans="many", inquiries_6m=1, utilisation=0.1),
     "records[1].payload.open_loans", "many"),
    ("conflicting resend", rec("L1", "tax", MONTHS[-1], arrears_minor=99), "records[1].payload", "immutable"),
]


@pytest.mark.parametrize(("case", "bad", "field", "named"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_record_refuses_the_whole_batch(engine: Engine, case: str, bad: dict[str, Any], field: str,
                                              named: str) -> None:
    active_loan(engine, "L1")
    ew.ingest_batch(engine, [rec("L1", "pos", MONTHS[-1], revenue_minor=100, cost_minor=50),
                       rec("L1", "tax", MONTHS[-1], arrears_minor=0)])
    before = stored(engine)
    good_first = rec("L1", "device", RUN_ON, device_id="d1")  # valid, but must not be half-applied
    with pytest.raises(EarlyWarningError) as err:
        ew.ingest_batch(engine, [good_first, bad])
    assert err.value.field == field
    assert named in err.value.message
    assert stored(engine) == before


def test_planted_risks_raise_the_right_alerts_and_clean_loans_none(engine: Engine) -> None:
    for loan_id in ("CLEAN", "DROP", "BORROW", "DEVICE"):
        active_loan(engine, loan_id)
    ew.ingest_batch(engine, [
        *clean_data("CLEAN"),
        *clean_data("DROP", revenue=[100_000_00] * 5 + [40_000_00]),
        *clean_data("BORROW", open_loans=(2, 4)),
        *clean_data("DEVICE", devices=("dev-a", "dev-b")),
    ])
    summary = ew.run_book(engine, RUN_ON).to_json()
    assert summary["loans"] == 4
    assert alerts_by_loan(engine) == {
        "DROP": [("revenue_drop", "high")],
        "BORROW": [("new_borrowing_elsewhere", "warn")],
        "DEVICE": [("device_change", "warn")],
    }
    [drop] = [a.to_json() for a in ew.alerts(engine, loan_id="DROP")]
    assert drop["evidence"]["inputs"] == {"revenue_m1": 40_000_00, "revenue_trailing_mean": 100_000_00}
    assert drop["evidence"]["value"] == pytest.approx(0.6)
    assert drop["actions"] == ["call", "review"]
    assert drop["status"] == "open"


def test_a_run_is_idempotent_per_date_and_announces_each_alert_once(engine: Engine) -> None:
    active_loan(engine, "BORROW")
    ew.ingest_batch(engine, clean_data("BORROW", open_loans=(1, 4)))  # 3 new loans elsewhere: high
    first = ew.run_book(engine, RUN_ON).to_json()
    again = ew.run_book(engine, RUN_ON).to_json()
    assert (first["new_alerts"], again["new_alerts"], again["alerts"]) == (1, 0, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ew_alerts)).scalar_one() == 1
        events = conn.execute(select(outbox.c.event_type, outbox.c.payload)
                              .where(outbox.c.event_type == ew.ALERT_RAISED)).all()
    assert len(events) == 1
    assert events[0].payload["severity"] == "high" and events[0].payload["actions"] == ["call", "review"]


def test_a_standing_condition_is_one_alert_until_closed_or_worse(engine: Engine) -> None:
    """Daily runs (EOD) must not re-raise a condition that is still true: one open alert per (loan,
    indicator); a higher severity raises another; after closing, a still-true condition is raised anew."""
    active_loan(engine, "BORROW")
    ew.ingest_batch(engine, clean_data("BORROW", open_loans=(2, 4)))  # 2 new loans elsewhere: warn
    assert ew.run_book(engine, RUN_ON).to_json()["new_alerts"] == 1
    assert ew.run_book(engine, date(2026, 4, 6)).to_json()["new_alerts"] == 0  # the same condition the next day
    ew.ingest_batch(engine, [rec("BORROW", "bureau", date(2026, 4, 28), open_loans=7, inquiries_6m=1, utilisation=0.3)])
    ew.run_book(engine, date(2026, 4, 29)).to_json()  # worse: 3 more loans elsewhere is high
    assert borrowing_severities(engine) == ["high", "warn"]
    ew.run_book(engine, date(2026, 4, 30)).to_json()
    assert borrowing_severities(engine) == ["high", "warn"]
    for alert in [a.to_json() for a in ew.alerts(engine, loan_id="BORROW")]:
        ew.act_on(engine, alert["alert_id"], "close", "ana", note="reviewed").to_json()
    ew.run_book(engine, date(2026, 5, 1)).to_json()  # closed, yet still true: raised again
    assert borrowing_severities(engine) == ["high", "high", "warn"]


def borrowing_severities(engine: Engine) -> list[str]:
    return sorted(a["severity"] for a in [a.to_json() for a in ew.alerts(engine, loan_id="BORROW")]
                  if a["indicator"] == "new_borrowing_elsewhere")


def test_online_check_of_one_loan_matches_the_run(engine: Engine) -> None:
    active_loan(engine, "DROP")
    ew.ingest_batch(engine, clean_data("DROP", revenue=[100_000_00] * 5 + [10_000_00]))
    online = ew.check_loan(engine, "DROP", RUN_ON)
    assert ("revenue_drop", "critical") in [(a.indicator, a.severity) for a in online]
    summary = ew.run_book(engine, RUN_ON).to_json()
    assert (summary["alerts"], summary["new_alerts"]) == (len(online), 0)  # the run finds what the check raised


def test_the_alert_lifecycle_records_who_and_when(engine: Engine) -> None:
    active_loan(engine, "DEVICE")
    ew.ingest_batch(engine, clean_data("DEVICE", devices=("dev-a", "dev-b")))
    ew.run_book(engine, RUN_ON).to_json()
    [alert] = [a.to_json() for a in ew.alerts(engine, status="open")]
    ew.act_on(engine, alert["alert_id"], "acknowledge", "ana").to_json()
    ew.act_on(engine, alert["alert_id"], "assign", "ana", assignee="bo").to_json()
    closed = ew.act_on(engine, alert["alert_id"], "close", "bo", note="customer replaced a broken phone").to_json()
    assert closed["status"] == "closed" and closed["assignee"] == "bo"
    [stored_alert] = [a.to_json() for a in ew.alerts(engine, status="closed")]
    assert [(h["action"], h["by"]) for h in stored_alert["history"]] == [
        ("raise", "system"), ("acknowledge", "ana"), ("assign", "ana"), ("close", "bo")]
    assert stored_alert["history"][-1]["note"] == "customer replaced a broken phone"
    with pytest.raises(EarlyWarningError, match="cannot acknowledge"):
        ew.act_on(engine, alert["alert_id"], "acknowledge", "ana").to_json()
    with pytest.raises(EarlyWarningError) as err:
        ew.act_on(engine, "ew_nope", "close", "ana").to_json()
    assert err.value.field == "alert_id"


def test_cli_ingest_run_alerts_and_ack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from lendstack.cli.context import open_engine

    engine = open_engine()
    active_loan(engine, "BORROW")
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in clean_data("BORROW", open_loans=(1, 2))[:-1]))
    csv_file = tmp_path / "tax.csv"
    csv_file.write_text(f"loan_id,source,as_of,arrears_minor\nBORROW,tax,{MONTHS[-1]},0\n")
    runner = CliRunner()
    for path in (jsonl, csv_file):
        result = runner.invoke(app, ["monitor", "ingest", str(path), "--json"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["monitor", "run", "--as-of", RUN_ON.isoformat(), "--json"])
    assert json.loads(result.output)["new_alerts"] == 1
    items = json.loads(runner.invoke(app, ["monitor", "alerts", "--status", "open", "--json"]).output)["items"]
    result = runner.invoke(app, ["monitor", "ack", items[0]["alert_id"], "--by", "ana", "--json"])
    assert json.loads(result.output)["status"] == "acknowledged"
    bad = runner.invoke(app, ["monitor", "ingest", str(csv_file.with_suffix(".txt")), "--json"])
    assert bad.exit_code == 2 and json.loads(bad.output)["error"]["field"] == "file"
