"""run_stress on a demo book, both backends: the stable shape, the baseline equal to the book's
ECL, severity ordering, and bad input naming its field; the CLI with --json."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.book_dates import advance_to
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.money import Money
from lendstack.risk.stress import StressError
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, repay_loan
from lendstack.services.monitoring import portfolio_report
from lendstack.services.stress import run_stress

MONTH_KEYS = {"month", "currency", "exposure_minor", "defaults", "default_rate", "pd_annual", "lgd", "losses_minor",
              "cumulative_losses_minor"}


START = date(2025, 1, 10)
LOANS = (("S1", "consumer_cny_12m", 24_000_00, "CNY", 12), ("S2", "micro_business_cny", 200_000_00, "CNY", 24),
         ("S3", "usd_personal", 10_000_00, "USD", 12), ("S4", "consumer_cny_12m", 6_000_00, "CNY", 6))


def small_book(engine: Engine) -> None:
    """Four loans, 100 days of end of day: S1 repays its first installments, the others fall behind."""
    for loan_id, product, amount, currency, term in LOANS:
        book_loan(engine, loan_id=loan_id, product=product, amount=Money(amount, currency), term=term, on=START,
                  key=f"b-{loan_id}")
        disburse_loan(engine, loan_id, START, f"d-{loan_id}")
    advance_to(engine, date(2025, 2, 10))
    repay_loan(engine, "S1", date(2025, 2, 10), Money(3_000_00, "CNY"), "p1")
    run_eod(engine, date(2025, 4, 20), hooks=False)


def test_run_stress_on_a_small_book(engine: Engine) -> None:
    small_book(engine)
    result = run_stress(engine).to_json()
    json.dumps(result)  # JSON-able as it is
    assert [s["name"] for s in result["scenarios"]] == ["baseline", "adverse", "severe"]
    assert result["as_of"] == result["book_date"] and result["loans"] > 0
    ecl = portfolio_report(engine)["ecl"]["total_minor"]
    by_name = {s["name"]: s for s in result["scenarios"]}
    for currency in result["currencies"]:
        base, adverse, severe = (by_name[n]["totals"][currency] for n in ("baseline", "adverse", "severe"))
        assert base["ecl_now_minor"] == ecl[currency]
        assert base["losses_minor"] <= adverse["losses_minor"] <= severe["losses_minor"]
        assert severe["losses_minor"] <= severe["exposure_start_minor"]
        assert by_name["severe"]["vs_baseline"][currency]["losses_delta_minor"] == \
            severe["losses_minor"] - base["losses_minor"]
        assert all(v == 0 for v in by_name["baseline"]["vs_baseline"][currency].values())
    for scenario in result["scenarios"]:
        assert len(scenario["months"]) == 12 * len(result["currencies"])
        assert all(set(m) == MONTH_KEYS for m in scenario["months"])
    with pytest.raises(StressError) as err:
        run_stress(engine, as_of=result["book_date"] and _day(result["book_date"]) - timedelta(days=1))
    assert err.value.field == "as_of"


def _day(text: str) -> Any:
    return date.fromisoformat(text)


def test_cli_stress_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lendstack.store import make_engine, upgrade
    url = f"sqlite:///{tmp_path / 'stress.db'}"
    engine = make_engine(url)
    upgrade(engine)
    small_book(engine)
    engine.dispose()
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", url)
    runner = CliRunner()
    ok = runner.invoke(app, ["stress", "run", "--json"])
    assert ok.exit_code == 0, ok.output
    assert {s["name"] for s in json.loads(ok.output)["scenarios"]} == {"baseline", "adverse", "severe"}
    table = runner.invoke(app, ["stress", "run"])
    assert table.exit_code == 0 and "严重不利情景" in table.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\ntransmission: {revenue_logit_per_pct: 0.1, unemployment_logit_per_pp: 0.1,"
                   " rate_logit_per_100bp: 0.1}\nscenarios: [{name: adverse, name_zh: 不利}]\n", encoding="utf-8")
    refused = runner.invoke(app, ["stress", "run", "--scenarios", str(bad), "--json"])
    assert refused.exit_code == 2 and json.loads(refused.output)["error"]["field"] == "scenarios"
    wrong_day = runner.invoke(app, ["stress", "run", "--as-of", "2026-02-30", "--json"])
    assert wrong_day.exit_code == 2 and json.loads(wrong_day.output)["error"]["field"] == "as_of"
