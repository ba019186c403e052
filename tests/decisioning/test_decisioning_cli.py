"""`lendstack decide`, `backtest`, `policy` and `review` from the command line (SQLite, small model)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.decisioning import ScoringModel
from lendstack.decisioning.policy import POLICY_DIR
from lendstack.sim import to_application_json

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_model: ScoringModel) -> Path:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr("lendstack.services.decisions._default_model", lambda: small_model)
    monkeypatch.setattr("lendstack.services.models.scoring_model", lambda **_kwargs: small_model)
    return tmp_path


def test_decide_prints_the_decision_as_json(cli_env: Path, sample: pl.DataFrame) -> None:
    file = cli_env / "app.json"
    file.write_text(json.dumps(to_application_json(sample.row(3, named=True))), encoding="utf-8")
    result = runner.invoke(app, ["decide", "--application", str(file), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["outcome"] in ("approve", "refer", "decline")
    assert document["policy"] == "consumer@1" and len(document["policy_hash"]) == 64
    assert all(r["en"] and r["zh"] for r in document["reasons"])
    again = runner.invoke(app, ["decide", "--application", str(file), "--json"])
    assert again.exit_code == 2 and json.loads(again.output)["error"]["field"] == "application_id"


def test_decide_bad_input_exits_2_naming_the_field(cli_env: Path, sample: pl.DataFrame) -> None:
    document = to_application_json(sample.row(4, named=True))
    document["declared"]["requested_amount_minor"] = -5
    file = cli_env / "bad.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["decide", "--application", str(file), "--json"])
    assert result.exit_code == 2 and "requested_amount_minor" in json.loads(result.output)["error"]["field"]
    unknown = runner.invoke(app, ["decide", "--application", str(file), "--policy", "nope@1", "--json"])
    assert unknown.exit_code == 2 and json.loads(unknown.output)["error"]["field"] == "policy"


def test_policy_commands(cli_env: Path) -> None:
    listed = runner.invoke(app, ["policy", "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.output)["policies"]) == 3
    bad = cli_env / "bad.yaml"
    bad.write_text((POLICY_DIR / "consumer_v1.yaml").read_text(encoding="utf-8").replace("margin: 0.02", "margin: x"),
                   encoding="utf-8")
    result = runner.invoke(app, ["policy", "validate", str(bad), "--json"])
    error = json.loads(result.output)["error"]
    assert result.exit_code == 2 and error["field"] == "pricing.margin" and error["line"] > 1
    ok = runner.invoke(app, ["policy", "validate", str(POLICY_DIR / "consumer_v2.yaml"), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["policy"] == "consumer@2"


def test_backtest_side_by_side(cli_env: Path, sample: pl.DataFrame) -> None:
    data = cli_env / "history.parquet"
    sample.write_parquet(data)
    result = runner.invoke(app, ["backtest", "--policy", "consumer_v1", "--against", "consumer_v2", "--data",
                                 str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["policies"]) == {"consumer@1", "consumer@2"} and report["rows"] == sample.height
    review = runner.invoke(app, ["review", "list", "--json"])
    assert review.exit_code == 0 and json.loads(review.output) == {"reviews": []}
