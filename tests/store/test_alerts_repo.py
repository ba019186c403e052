"""AlertsRepository on SQLite and PostgreSQL: snapshots in and their fingerprints and latest dates
out, the live book row by row and as frames, alerts stored, listed, locked and moved on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from lendstack.money import Money
from lendstack.monitoring.alerts import acted, raised
from lendstack.monitoring.early_warning import Alert, PostLoanRecord
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.store.alerts_repo import AlertsRepository

ON = date(2026, 3, 10)
NOW = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)


def loan(engine: Engine, loan_id: str) -> None:
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12,
              on=ON, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")


def test_snapshots_and_the_book(engine: Engine) -> None:
    loan(engine, "L1")
    records = [PostLoanRecord("L1", "pos", date(2026, 3, d), {"revenue_minor": d}, f"f{d}") for d in (1, 2)]
    with engine.begin() as conn:
        repo = AlertsRepository(conn)
        assert repo.known_loans(["L1", "L9"]) == {"L1"} and repo.known_loans([]) == set()
        repo.add_snapshots(records, NOW)
        assert repo.snapshot_fingerprints(["L1"]) == {("L1", "pos", date(2026, 3, 1)): "f1",
                                                      ("L1", "pos", date(2026, 3, 2)): "f2"}
        assert repo.latest_snapshot_dates(["L1"]) == {("L1", "pos"): date(2026, 3, 2)}
        [live] = repo.live_loans()
        assert (live.loan_id, live.principal_outstanding_minor) == ("L1", 12_000_00)
        assert repo.live_loans(["L9"]) == []
        due = repo.due_and_settled(["L1"])["L1"]
        assert len(due) == 12 and not any(settled for _, settled in due)
        assert repo.histories(date(2026, 3, 1), ["L1"])["L1"]["pos"] == [{"revenue_minor": 1}]
        frames = repo.book_frames(date(2026, 6, 1))
        assert frames.loans["loan_id"].to_list() == ["L1"]
        assert frames.installments.height == 2 and frames.snapshots.height == 2  # due before, dated on or before


def test_alerts(engine: Engine) -> None:
    loan(engine, "L1")
    first = raised(Alert("ew_1", "L1", "revenue_drop", "warn", date(2026, 4, 1), ("call",), {"drop": 0.5}), NOW)
    second = dataclasses.replace(first, alert_id="ew_2", as_of=date(2026, 4, 2), severity="high")
    with engine.begin() as conn:
        repo = AlertsRepository(conn)
        repo.add_alerts([first, second])
        assert repo.existing_alert_ids(["ew_1", "ew_9"]) == {"ew_1"}
        assert sorted(repo.standing(["L1"])) == [("L1", "revenue_drop", "high"), ("L1", "revenue_drop", "warn")]
        assert [a.alert_id for a in repo.alerts()] == ["ew_2", "ew_1"]  # newest as_of first
        assert repo.alerts(status="closed") == [] and repo.alerts(loan_id="L2") == []
        stored = repo.alert("ew_1", for_update=True)
        assert stored is not None and stored.to_json() == first.to_json()
        repo.save_lifecycle(acted(stored, "close", "ana", NOW))
        assert repo.standing(["L1"]) == [("L1", "revenue_drop", "high")]
        assert repo.alert("ew_9") is None
