"""RepairRepository on SQLite and PostgreSQL: the loans and repayment history credit repair reads,
and applications with their grants stored and read back as the same records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from lendstack.ledger import AccountCode, EntryKind
from lendstack.money import Money
from lendstack.monitoring.credit_repair import RepairApplication, RepairGrant
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.store.repair_repo import RepairRepository

ON = date(2026, 3, 10)
NOW = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)


def application(application_id: str, created_at: datetime, grant: bool) -> RepairApplication:
    made = RepairGrant(f"G-{application_id}", application_id, "loan:L1", "L1", 2, "late_payment", date(2026, 5, 10),
                       date(2026, 5, 20), 10, date(2027, 4, 1), created_at) if grant else None
    return RepairApplication(application_id, "loan:L1", "", "L1", date(2027, 4, 1),
                             "granted" if grant else "refused", [] if grant else [{"code": "x", "en": "X", "zh": "X"}],
                             {"months_on_time": 12}, {"months_on_time": 12}, [{"action": "applied"}], created_at, made)


def test_loans_history_and_applications(engine: Engine) -> None:
    book_loan(engine, loan_id="L1", product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12, on=ON,
              key="book-L1")
    disburse_loan(engine, "L1", ON, "disb-L1")
    with engine.begin() as conn:
        repo = RepairRepository(conn)
        assert repo.loan_exists("L1") and not repo.loan_exists("L9")
        assert repo.existing_loans(["L9", "L1"]) == ["L1"] and repo.loan_ids() == ["L1"]
        assert repo.statuses(["L1"]) == {"L1": "active"}
        assert repo.acting_applicant("A-none") == "" and repo.acting_applications("P-none", 10) == []
        assert repo.acting_applicants() == {}
        assert repo.installments_frame(["L1"]).height == 12
        payments = repo.payments_frame(["L1"], (EntryKind.REPAY,), (AccountCode.LOAN_PRINCIPAL,))
        assert payments.height == 0 and payments.columns == ["loan_id", "paid_on", "amount_minor"]
        refused, granted = application("CR-1", NOW, False), application("CR-2", NOW + timedelta(seconds=1), True)
        repo.add(refused)
        repo.add(granted)
        assert repo.application("CR-1") == refused and repo.application("CR-2") == granted
        assert repo.application("CR-9") is None
        assert repo.granted_records("loan:L1") == [("L1", 2)] and repo.granted_records("loan:L2") == []
        assert repo.granted_records() == [("L1", 2)]
        assert repo.application_ids() == ["CR-2", "CR-1"]
        assert repo.application_ids(newest_first=False, status="refused") == ["CR-1"]
        assert repo.application_ids(borrower_id="loan:L2") == []
