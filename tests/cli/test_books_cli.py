"""The books' CLI: loan commands, eod, ledger and aging, each with --json; errors exit 2 naming
the field. (`lendstack demo` is tested in tests/cli/test_demo_cli.py.)"""

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


def test_loan_lifecycle_through_the_cli() -> None:
    booked = call("loan", "book", "--loan-id", "C1", "--product", "consumer_cny_12m", "--amount", "12000",
                  "--term", "12", "--on", "2026-01-10", "--key", "b1")
    assert booked["status"] == "approved"
    call("loan", "disburse", "C1", "--on", "2026-01-10", "--key", "d1")
    eod = call("eod", "--date", "2026-03-01")
    assert eod["loans_closed"] == 51 and eod["entries_posted"] > 0
    shown = call("loan", "show", "C1")
    assert shown["status"] == "overdue" and shown["days_past_due"] == 19 and shown["bucket"] == "M1"
    paid = call("loan", "repay", "C1", "--amount", "3000", "--on", "2026-03-02", "--key", "p1")
    assert paid["paid"]["principal"] > 0
    trial = call("ledger", "trial-balance")
    rows = trial["currencies"]["CNY"]
    assert sum(r["debit_minor"] for r in rows) == sum(r["credit_minor"] for r in rows)
    verified = call("ledger", "verify")
    assert verified["ok"] is True and verified["problems"] == []
    assert verified["loans"] == {"checked": 1, "differing": 0, "orphan_balances": 0, "differences": []}
    aging = call("aging")
    assert sum(r["loans"] for r in aging["by_bucket"]) == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["loan", "repay", "NOPE", "--amount", "10", "--on", "2026-01-01", "--key", "k"], "loan_id"),
        (["loan", "book", "--loan-id", "X", "--product", "nope", "--amount", "1000", "--term", "12",
          "--on", "2026-01-01", "--key", "k"], "product_id"),
        (["loan", "book", "--loan-id", "X", "--product", "consumer_cny_12m", "--amount", "12.345", "--term", "12",
          "--on", "2026-01-01", "--key", "k"], "amount"),
        (["loan", "book", "--loan-id", "X", "--product", "consumer_cny_12m", "--amount", "12000", "--term", "12",
          "--on", "2026-01-01", "--key", "k", "--currency", "XYZ"], "currency"),
        (["eod", "--date", "tomorrow"], "date"),
    ],
)
def test_errors_exit_2_and_name_the_field(args: list[str], field: str) -> None:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["error"]["field"] == field
