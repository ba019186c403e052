"""The servicing CLI on SQLite and PostgreSQL: `lendstack db upgrade --business-date` opens a new book
once; `lendstack eod` closes the business date by default and refuses a day after today unless
--allow-future; `lendstack loan recover` / `loan reverse`; `lendstack aging` shows the business date
and the loans in non-accrual; `lendstack ledger verify` lists a loan whose stored balances were edited
by hand. Every command with --json; errors exit 2 naming the field and change nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update
from tests.book_dates import advance_to
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.services.business_date import business_date
from lendstack.store.tables import loans

runner = CliRunner()
OPENED = date(2026, 1, 10)  # the books' first day in these tests (before today: the CLI refuses future days)


@pytest.fixture
def db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's database: the test's engine, on each backend."""
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return engine


def call(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def fails(*args: str, code: int = 2) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)["error"]  # type: ignore[no-any-return]


def book(loan_id: str) -> None:
    """Booked and disbursed on the business date (no --on)."""
    call("loan", "book", "--loan-id", loan_id, "--product", "consumer_cny_12m", "--amount", "12000", "--term", "12",
         "--key", f"b-{loan_id}")
    call("loan", "disburse", loan_id, "--key", f"d-{loan_id}")


def shown(loan_id: str) -> dict[str, Any]:
    return call("loan", "show", loan_id)


# --------------------------------------------------------------------------- db upgrade, eod


def test_db_upgrade_opens_a_new_book_once(db: Engine) -> None:
    assert call("db", "upgrade")["business_date"] is None  # a new book has none
    bad = fails("db", "upgrade", "--business-date", "2026-02-30")
    assert bad["field"] == "business_date" and business_date(db) is None
    opened = call("db", "upgrade", "--business-date", OPENED.isoformat())
    assert opened["migrated"] is True and opened["opened"] is True and opened["business_date"] == "2026-01-10"
    again = call("db", "upgrade", "--business-date", OPENED.isoformat())  # the same date: nothing to do
    assert again["opened"] is False and again["business_date"] == "2026-01-10"
    other = fails("db", "upgrade", "--business-date", "2026-01-11")
    assert other["field"] == "business_date" and "already 2026-01-10" in other["message"]
    assert business_date(db) == OPENED
    # Once end of day has moved it, the opening date is refused too: only end of day moves the book.
    call("eod")
    assert fails("db", "upgrade", "--business-date", OPENED.isoformat())["field"] == "business_date"
    assert call("db", "upgrade")["business_date"] == "2026-01-11"


def test_the_first_money_command_opens_the_book_on_its_date(db: Engine) -> None:
    booked = call("loan", "book", "--loan-id", "C1", "--product", "consumer_cny_12m", "--amount", "12000",
                  "--term", "12", "--on", OPENED.isoformat(), "--key", "b1")
    assert booked["booked_on"] == "2026-01-10" and business_date(db) == OPENED
    assert call("aging")["business_date"] == "2026-01-10"


def test_eod_without_a_date_closes_the_business_date(db: Engine) -> None:
    refused = fails("eod")  # a new book: which day?
    assert refused["field"] == "date" and "no business date" in refused["message"]
    assert business_date(db) is None
    call("db", "upgrade", "--business-date", OPENED.isoformat())
    book("C1")
    assert shown("C1")["accrued_through"] == "2026-01-09"  # disbursed today: nothing closed yet
    closed = call("eod")
    assert closed["through"] == "2026-01-10" and closed["days"] == 1 and closed["loans_closed"] == 1
    assert closed["business_date"] == "2026-01-11" and business_date(db) == OPENED + timedelta(days=1)
    assert shown("C1")["accrued_through"] == "2026-01-10"
    again = call("eod", "--date", "2026-01-10")  # a closed day: nothing to do
    assert again["days"] == 0 and again["loans_closed"] == 0 and again["business_date"] == "2026-01-11"
    closed = call("eod")
    assert closed["through"] == "2026-01-11" and closed["days"] == 1 and closed["business_date"] == "2026-01-12"
    # Money commands are dated on the business date: left out, it is used; any other day is refused.
    for day in ("2026-01-11", "2026-01-13"):
        assert fails("loan", "repay", "C1", "--amount", "10", "--on", day, "--key", f"p-{day}")["field"] == "on"
    paid = call("loan", "repay", "C1", "--amount", "10", "--key", "p1")
    assert paid["on"] == "2026-01-12"


def test_eod_refuses_a_day_after_today_unless_allow_future(db: Engine) -> None:
    today = date.today()
    call("db", "upgrade", "--business-date", (today - timedelta(days=1)).isoformat())
    tomorrow = (today + timedelta(days=1)).isoformat()
    refused = fails("eod", "--date", tomorrow)
    assert refused["field"] == "date" and "after today" in refused["message"] and "--allow-future" in refused["message"]
    assert business_date(db) == today - timedelta(days=1)
    assert call("eod", "--date", today.isoformat())["business_date"] == tomorrow  # today itself may be closed
    # The business date is now tomorrow: a plain `eod` would close a day that has not happened.
    assert fails("eod")["field"] == "date"
    assert business_date(db) == today + timedelta(days=1)
    future = call("eod", "--date", (today + timedelta(days=2)).isoformat(), "--allow-future")
    assert future["days"] == 2 and future["business_date"] == (today + timedelta(days=3)).isoformat()
    assert call("eod", "--allow-future")["business_date"] == (today + timedelta(days=4)).isoformat()
    assert fails("eod", "--date", "soon", "--allow-future")["field"] == "date"


# --------------------------------------------------------------------------- aging, write-off, recover


def test_aging_write_off_and_recover_through_the_cli(db: Engine) -> None:
    call("db", "upgrade", "--business-date", OPENED.isoformat())
    book("C1")
    book("C2")
    first_due = date.fromisoformat(shown("C1")["installments"][0]["due_date"])
    advance_to(db, first_due + timedelta(days=95))  # C1 and C2 more than 90 days past due
    today = (first_due + timedelta(days=95)).isoformat()
    aging = call("aging")
    assert aging["business_date"] == today and aging["non_accrual_loans"] == 2
    assert aging["loans_by_status"] == {"overdue": 2}
    written = call("loan", "write-off", "C1", "--key", "wo")
    assert written["status"] == "written_off" and written["on"] == today
    claim = written["written_off_minor"]
    aging = call("aging")
    assert aging["non_accrual_loans"] == 1 and aging["loans_by_status"] == {"overdue": 1, "written_off": 1}

    recovered = call("loan", "recover", "C1", "--amount", "100.00", "--key", "r1")
    assert recovered["recovery_minor"] == 10_000 and recovered["recovered_minor"] == 10_000
    assert recovered["claim_open_minor"] == claim - 10_000 and recovered["on"] == today
    assert call("loan", "recover", "C1", "--amount", "100.00", "--key", "r1") == recovered  # a retry: once
    assert fails("loan", "recover", "C1", "--amount", "100.01", "--key", "r1")["field"] == "idempotency_key"
    before = shown("C1")
    assert before["recovered_minor"] == 10_000 and before["status"] == "written_off"
    yesterday = (first_due + timedelta(days=94)).isoformat()
    tomorrow = (first_due + timedelta(days=96)).isoformat()
    over = f"{(claim - 10_000 + 1) // 100}.{(claim - 10_000 + 1) % 100:02d}"
    for args, field in ((["C1", "--amount", over], "amount"),
                        (["C1", "--amount", "0"], "amount"),
                        (["C1", "--amount", "-1"], "amount"),
                        (["C1", "--amount", "1.001"], "amount"),
                        (["C1", "--amount", "1", "--currency", "USD"], "currency"),
                        (["C1", "--amount", "1", "--on", yesterday], "on"),
                        (["C1", "--amount", "1", "--on", tomorrow], "on"),
                        (["C1", "--amount", "1", "--on", "2026-13-01"], "on"),
                        (["C2", "--amount", "1"], "status"),  # not written off
                        (["NOPE", "--amount", "1"], "loan_id")):
        error = fails("loan", "recover", *args, "--key", f"bad-{args}")
        assert error["field"] == field, (args, error)
    assert shown("C1") == before
    whole = call("loan", "recover", "C1", "--amount", f"{(claim - 10_000) / 100:.2f}", "--on", today, "--key", "r2")
    assert whole["claim_open_minor"] == 0 and whole["recovered_minor"] == claim
    verified = call("ledger", "verify")
    assert verified["ok"] is True and verified["loans"]["differing"] == 0 and verified["loans"]["checked"] == 2


# --------------------------------------------------------------------------- reverse


def test_reverse_a_repayment_through_the_cli(db: Engine) -> None:
    call("db", "upgrade", "--business-date", OPENED.isoformat())
    book("C1")
    first_due = date.fromisoformat(shown("C1")["installments"][0]["due_date"])
    advance_to(db, first_due)
    call("loan", "repay", "C1", "--amount", "300", "--key", "p1")
    call("loan", "repay", "C1", "--amount", "200", "--key", "p2")
    paid = shown("C1")["installments"][0]
    through = (first_due + timedelta(days=4)).isoformat()
    assert call("eod", "--date", through)["days"] == 5
    today = (first_due + timedelta(days=5)).isoformat()

    out = call("loan", "reverse", "C1", "--entry", "C1/repay/p1", "--reason", "cheque bounced", "--key", "rv1")
    assert out["reversed_entry_id"] == "C1/repay/p1" and out["reversal_entry_id"] == "C1/reverse/rv1"
    assert out["payment_date"] == first_due.isoformat() and out["on"] == today
    assert call("loan", "reverse", "C1", "--entry", "C1/repay/p1", "--reason", "cheque bounced",
                "--key", "rv1") == out  # a retry: once
    after = shown("C1")
    inst = after["installments"][0]

    def total(i: dict[str, Any]) -> int:
        return int(i["principal_paid_minor"] + i["interest_paid_minor"] + i["fee_paid_minor"])

    assert total(inst) == total(paid) - 30_000  # the first installment is re-opened by the reversed payment
    for args, field in ((["--entry", "C1/repay/p2", "--reason", "bounced", "--key", "rv1"], "idempotency_key"),
                        (["--entry", "C1/repay/p1", "--reason", "again", "--key", "b1"], "entry_id"),
                        (["--entry", "C1/repay/nope", "--reason", "bounced", "--key", "b2"], "entry_id"),
                        (["--entry", "C1/disburse/d-C1", "--reason", "bounced", "--key", "b3"], "entry_id"),
                        (["--entry", "C1/repay/p2", "--reason", "", "--key", "b4"], "reason"),
                        (["--entry", "C1/repay/p2", "--reason", "   ", "--key", "b5"], "reason"),
                        (["--entry", "C1/repay/p2", "--reason", "x" * 501, "--key", "b6"], "reason"),
                        (["--entry", "C1/repay/p2", "--reason", "bounced", "--on", through, "--key", "b7"], "on"),
                        (["--entry", "C1/repay/p2", "--reason", "bounced", "--on", "2026-02-30", "--key", "b8"], "on")):
        error = fails("loan", "reverse", "C1", *args)
        assert error["field"] == field, (args, error)
    assert runner.invoke(app, ["loan", "reverse", "C1", "--entry", "C1/repay/p2", "--key", "b9"]).exit_code == 2
    assert shown("C1") == after
    second = call("loan", "reverse", "C1", "--entry", "C1/repay/p2", "--reason", "r" * 500, "--on", today,
                  "--key", "rv2")
    assert second["reversed_entry_id"] == "C1/repay/p2"
    assert total(shown("C1")["installments"][0]) == total(paid) - 50_000
    verified = call("ledger", "verify")
    assert verified["ok"] is True and verified["problems"] == [] and verified["loans"]["differing"] == 0


# --------------------------------------------------------------------------- ledger verify


def test_ledger_verify_lists_a_loan_whose_balance_was_edited_by_hand(db: Engine) -> None:
    call("db", "upgrade", "--business-date", OPENED.isoformat())
    book("C1")
    book("C2")
    call("eod", "--date", (OPENED + timedelta(days=3)).isoformat())
    clean = call("ledger", "verify")
    assert clean["ok"] is True and clean["loans"] == {"checked": 2, "differing": 0, "orphan_balances": 0,
                                                      "differences": []}
    with db.begin() as conn:  # someone edits a stored balance by hand
        conn.execute(update(loans).where(loans.c.loan_id == "C2").values(suspense_minor=loans.c.suspense_minor + 7))
    result = runner.invoke(app, ["ledger", "verify", "--json"])
    assert result.exit_code == 1, result.output
    found = json.loads(result.output)
    assert found["ok"] is False and found["problems"] == []  # the journal itself is intact
    assert found["loans"]["checked"] == 2 and found["loans"]["differing"] == 1
    assert [d["loan_id"] for d in found["loans"]["differences"]] == ["C2"]
    assert found["loans"]["differences"][0]["accounts"] == {"2241": {"loan_minor": -7, "ledger_minor": 0}}
    people = runner.invoke(app, ["ledger", "verify"])
    assert people.exit_code == 1 and "C2" in people.output and "C1:" not in people.output
