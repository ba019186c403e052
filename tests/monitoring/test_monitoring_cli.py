"""The monitoring CLI with --json on a small demo book and on plain files; errors exit 2 naming
the field. Also: the DPD reconstructed from repayments matches servicing's on the demo book."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tests.sample_book import run_demo
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.monitoring.portfolio import dpd_at, installment_paid_dates, live
from lendstack.services.monitoring import book_date, read_installments, read_loans, read_payments
from lendstack.sim import Shift, generate_applications
from lendstack.store import make_engine, upgrade

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('mon') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    run_demo(engine, loans_n=40, days=200)
    engine.dispose()
    yield url


def call(*args: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_portfolio_report_and_provision(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", demo_url)
    report = call("portfolio", "report")
    assert report["loans"] == 40 and report["vintages"] and report["ecl"]["by_stage"]
    assert sum(r["loans"] for r in report["by_bucket"]) == sum(r["loans"] for r in report["by_class"])
    # The report is as of the last closed day; a provision is a money command, dated on the business date
    assert report["book_date"] == report["as_of"] and report["business_date"] > report["as_of"]
    closed_day = call("portfolio", "provision", "--as-of", report["as_of"], code=2)
    assert closed_day["error"]["field"] == "as_of" and "closed" in closed_day["error"]["message"]
    posted = call("portfolio", "provision", "--as-of", report["business_date"])
    assert posted["entries_posted"] >= 1
    assert call("portfolio", "provision", "--as-of", report["business_date"])["entries_posted"] == 0
    assert call("portfolio", "provision", "--as-of", "2026-13-01", code=2)["error"]["field"] == "as_of"
    verified = call("ledger", "verify")  # the ledger, and every loan against its sub-ledger
    assert (verified["ok"], verified["problems"]) == (True, [])
    assert verified["loans"] == {"checked": 40, "differing": 0, "orphan_balances": 0, "differences": []}


def test_reconstructed_dpd_matches_servicing(demo_url: str) -> None:
    engine = make_engine(demo_url)
    with engine.connect() as conn:
        loans, inst, pay, day = read_loans(conn), read_installments(conn), read_payments(conn), book_date(conn)
    assert day is not None
    rebuilt = dpd_at(installment_paid_dates(inst, pay), day).rename({"days_past_due": "rebuilt"})
    pair = live(loans).join(rebuilt, on="loan_id")
    exact = pair.filter(pl.col("days_past_due") == pl.col("rebuilt")).height
    assert exact >= 0.9 * pair.height, pair.filter(pl.col("days_past_due") != pl.col("rebuilt"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("files")
    cols = ["monthly_income_minor", "inquiries_6m", "region", "gender", "pd_true", "default_12m"]
    ref = generate_applications(3000, seed=1).select(cols)
    cur = generate_applications(3000, seed=2, shift=Shift(income_scale=0.6, inquiries_add=2)).select(cols)
    decided = ref.with_columns(pl.when(pl.col("pd_true") < 0.1).then(pl.lit("approve")).otherwise(pl.lit("decline"))
                               .alias("decision"))
    paths = {"ref": folder / "ref.parquet", "cur": folder / "cur.csv", "dec": folder / "dec.csv"}
    ref.write_parquet(paths["ref"])
    cur.write_csv(paths["cur"])
    decided.write_csv(paths["dec"])
    return paths


def test_audit_drift(files: dict[str, Path]) -> None:
    out = call("audit", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"]),
               "--score", "pd_true", "--outcome", "default_12m")
    assert {"monthly_income_minor", "inquiries_6m"} <= set(out["alerts"])
    assert "region" not in out["alerts"] and out["performance"]["current"]["auc"] > 0.5
    missing = call("audit", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"]),
                   "--score", "score", code=2)
    assert missing["error"]["field"] == "reference.score"


def test_audit_fairness(files: dict[str, Path]) -> None:
    out = call("audit", "fairness", "--data", str(files["dec"]), "--decision", "decision", "--group", "gender",
               "--outcome", "default_12m")
    assert {g["group"] for g in out["groups"]} == {"female", "male"}
    assert all(0 <= g["approval_rate"] <= 1 for g in out["groups"])
    bad = call("audit", "fairness", "--data", str(files["dec"]), "--decision", "decision", "--group", "race", code=2)
    assert bad["error"]["field"] == "race"
    nofile = call("audit", "fairness", "--data", "/no/such.csv", "--decision", "d", "--group", "g", code=2)
    assert nofile["error"]["field"] == "data"


def test_empty_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    report = call("portfolio", "report", "--as-of", "2026-01-31")
    assert report["loans"] == 0 and report["vintages"] == [] and report["ecl"]["total_minor"] == {}
    assert call("portfolio", "provision", "--as-of", "2026-01-31")["entries_posted"] == 0


def test_tables_for_people(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["audit", "fairness", "--data", str(files["dec"]), "--decision", "decision",
                                 "--group", "region", "--outcome", "default_12m"])
    assert result.exit_code == 0 and "Fairness by group" in result.output
    result = runner.invoke(app, ["audit", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"])])
    assert result.exit_code == 0 and "alert" in result.output
