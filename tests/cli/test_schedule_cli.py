"""`lendstack schedule` through Typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lendstack.cli.main import app

runner = CliRunner()
MORTGAGE = [
    "schedule",
    "--amount",
    "1000000",
    "--annual-rate",
    "0.049",
    "--term-months",
    "360",
    "--start",
    "2026-01-15",
]


def test_table_shows_the_first_installment_and_totals() -> None:
    result = runner.invoke(app, MORTGAGE)
    assert result.exit_code == 0, result.output
    first_row = next(line for line in result.stdout.splitlines() if "2026-02-15" in line)
    for cell in ("1223.94", "4083.33", "0.00", "5307.27", "998776.06"):
        assert cell in first_row
    assert "total interest" in result.stdout and "910615.12" in result.stdout


def test_json_document() -> None:
    result = runner.invoke(app, [*MORTGAGE, "--method", "equal_installment", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"currency", "method", "amount", "apr", "total_interest", "installments"} <= set(document)
    assert (document["currency"], document["method"], document["amount"]) == (
        "CNY",
        "equal_installment",
        "1000000.00",
    )
    assert abs(float(document["apr"]) - 0.049) < 1e-6
    assert document["installments"][0] == {
        "seq": 1,
        "due_date": "2026-02-15",
        "principal": "1223.94",
        "interest": "4083.33",
        "fee": "0.00",
        "total": "5307.27",
        "remaining_principal": "998776.06",
    }
    assert len(document["installments"]) == 360


def test_weekly_with_term_alias() -> None:
    args = ["schedule", "--amount", "5200", "--annual-rate", "0.052", "--term", "4", "--frequency", "weekly"]
    result = runner.invoke(app, [*args, "--start", "2026-01-01", "--method", "interest_only", "--json"])
    assert result.exit_code == 0, result.output
    assert [i["due_date"] for i in json.loads(result.stdout)["installments"]][:2] == [
        "2026-01-08",
        "2026-01-15",
    ]


def test_bad_amount_exits_2_naming_amount() -> None:
    result = runner.invoke(app, ["schedule", "--amount", "abc", *MORTGAGE[3:]])
    assert result.exit_code == 2
    assert "amount" in result.stderr and "abc" in result.stderr


def test_bad_amount_with_json_gives_an_error_document() -> None:
    result = runner.invoke(app, ["schedule", "--amount", "1.001", *MORTGAGE[3:], "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["field"] == "amount"


def test_other_bad_options_name_their_field() -> None:
    cases = {
        "rate_annual": ["--annual-rate", "4.9%"],
        "method": ["--method", "balloon"],
        "start": ["--start", "15/01/2026"],
        "first_due_date": ["--first-due", "2026-01-10"],
        "term": ["--term", "12"],  # together with --term-months
    }
    for field, override in cases.items():
        args = [*MORTGAGE, *override, "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (field, result.output)
        assert json.loads(result.stdout)["error"]["field"] == field
