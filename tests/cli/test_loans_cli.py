"""`lendstack loan refund`: pays an overpayment held in suspense back, --json like the other loan
commands, idempotent by --key; errors exit 2 naming the field and change nothing. Commands are dated
on the book's business date (--on defaults to it); `lendstack eod` moves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


def call(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def fails(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2, result.output
    return json.loads(result.output)["error"]  # type: ignore[no-any-return]


def overpaid() -> None:
    call("loan", "book", "--loan-id", "C1", "--product", "consumer_cny_12m", "--amount", "12000", "--term", "12",
         "--on", "2026-01-10", "--key", "b1")
    call("loan", "disburse", "C1", "--on", "2026-01-10", "--key", "d1")
    assert call("eod", "--date", "2026-01-11")["business_date"] == "2026-01-12"
    paid = call("loan", "repay", "C1", "--amount", "500", "--on", "2026-01-12", "--key", "p1")
    assert paid["suspense_minor"] == 50_000
    assert call("eod", "--date", "2026-01-12")["business_date"] == "2026-01-13"  # the refunds' day


def test_refund_through_the_cli_once_per_key() -> None:
    overpaid()
    refunded = call("loan", "refund", "C1", "--amount", "200.00", "--on", "2026-01-13", "--key", "r1")
    assert refunded["suspense_minor"] == 30_000 and refunded["refunded_minor"] == 20_000
    again = call("loan", "refund", "C1", "--amount", "200.00", "--on", "2026-01-13", "--key", "r1")
    assert again == refunded
    assert call("loan", "show", "C1")["suspense_minor"] == 30_000
    verified = call("ledger", "verify")  # now also reconciles every loan against its sub-ledger
    assert verified["ok"] is True and verified["problems"] == []
    assert verified["loans"] == {"checked": 1, "differing": 0, "orphan_balances": 0, "differences": []}
    other = fails("loan", "refund", "C1", "--amount", "100.00", "--on", "2026-01-13", "--key", "r1")
    assert other["field"] == "idempotency_key"
    dated = call("loan", "refund", "C1", "--amount", "100.00", "--key", "r2")  # no --on: the business date
    assert dated["on"] == "2026-01-13" and dated["suspense_minor"] == 20_000


@pytest.mark.parametrize(("amount", "on", "field"), [
    ("500.01", "2026-01-13", "amount_minor"),
    ("0", "2026-01-13", "amount_minor"),
    ("-1", "2026-01-13", "amount_minor"),
    ("1.001", "2026-01-13", "amount"),
    ("1.00", "2026-01-11", "on"),
    ("1.00", "2026-01-12", "on"),  # closed by end of day
    ("1.00", "2026-01-14", "on"),  # after the business date: end of day has not closed 2026-01-13
    ("1.00", "someday", "on"),
])
def test_errors_exit_2_name_the_field_and_change_nothing(amount: str, on: str, field: str) -> None:
    overpaid()
    assert fails("loan", "refund", "C1", "--amount", amount, "--on", on, "--key", "bad")["field"] == field
    assert call("loan", "show", "C1")["suspense_minor"] == 50_000
