"""`lendstack sim applications` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.sim import FIELDS

runner = CliRunner()


def test_writes_parquet_and_reports_json(tmp_path: Path) -> None:
    out = tmp_path / "apps.parquet"
    result = runner.invoke(app, ["sim", "applications", "--n", "2000", "--seed", "7", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 2000 and report["path"] == str(out)
    assert 0.0 < report["default_rate"] < 0.2 and report["seconds"] >= 0
    written = pl.read_parquet(out)
    assert written.height == 2000 and written.columns == list(FIELDS)


def test_writes_csv_with_a_human_summary(tmp_path: Path) -> None:
    out = tmp_path / "apps.csv"
    result = runner.invoke(app, ["sim", "applications", "--n", "500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "default rate" in result.stdout
    assert pl.read_csv(out).height == 500


def test_errors_name_the_option(tmp_path: Path) -> None:
    cases = [
        (["--n", "0", "--out", str(tmp_path / "a.parquet")], "n"),
        (["--n", "10", "--out", str(tmp_path / "a.txt")], "out"),
        (["--n", "10", "--out", str(tmp_path / "a.csv"), "--as-of", "soon"], "as_of"),
        (["--n", "10", "--out", str(tmp_path / "a.csv"), "--shock", "99"], "shock"),
    ]
    for arguments, field in cases:
        result = runner.invoke(app, ["sim", "applications", *arguments, "--json"])
        assert result.exit_code == 2, (arguments, result.output)
        assert json.loads(result.stdout)["error"]["field"] == field
