"""`lendstack model scorecard` (issue 13 §4), and `model evaluate --json` keeping `iv`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.scoring import CreditModel, save_artifact

runner = CliRunner()


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


@pytest.fixture()
def scorecard_dir(scorecard: CreditModel, tmp_path: Path) -> Path:
    save_artifact(scorecard, tmp_path / "sc")
    return tmp_path / "sc"


def test_json_table(scorecard_dir: Path, scorecard: CreditModel) -> None:
    code, document = _run("model", "scorecard", "--model", str(scorecard_dir))
    assert code == 0 and document["out"] is None and document["format"] is None
    manifest = json.loads((scorecard_dir / "manifest.json").read_text())
    assert document["content_sha256"] == manifest["content_sha256"]
    table = document["scorecard"]
    assert (table["base_points"], table["base_odds"], table["pdo"]) == (600.0, 50.0, 20.0)
    assert [f["name"] for f in table["features"]] == scorecard.base.selected_features()
    assert "debt_ratio" in [f["name"] for f in table["features"]]
    assert all(f["bins"][-1]["label"].startswith("missing") for f in table["features"])


def test_files_and_screen(scorecard_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "points.csv"
    code, document = _run("model", "scorecard", "--model", str(scorecard_dir), "--out", str(out))
    assert code == 0 and document["format"] == "csv" and document["out"] == str(out)  # from the suffix
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == sum(len(f["bins"]) for f in document["scorecard"]["features"])
    page = tmp_path / "points.txt"
    code, _ = _run("model", "scorecard", "--model", str(scorecard_dir), "--format", "html", "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert code == 0 and html.startswith("<!DOCTYPE html>") and document["content_sha256"][:16] in html
    printed = runner.invoke(app, ["model", "scorecard", "--model", str(scorecard_dir), "--format", "json"])
    assert printed.exit_code == 0 and json.loads(printed.stdout)["pdo"] == 20.0
    screen = runner.invoke(app, ["model", "scorecard", "--model", str(scorecard_dir)])
    assert screen.exit_code == 0 and "PDO / 翻倍分" in screen.stdout and "debt_ratio" in screen.stdout


def test_errors_exit_2_naming_the_field(scorecard_dir: Path, gbm: CreditModel, tmp_path: Path) -> None:
    save_artifact(gbm, tmp_path / "gbm")
    code, error = _run("model", "scorecard", "--model", str(tmp_path / "gbm"))
    assert code == 2 and error["error"]["field"] == "model" and "not a scorecard" in error["error"]["message"]
    code, error = _run("model", "scorecard", "--model", str(scorecard_dir), "--format", "xlsx")
    assert code == 2 and error["error"]["field"] == "format"
    code, error = _run("model", "scorecard", "--model", str(scorecard_dir), "--out", str(tmp_path / "t.xlsx"))
    assert code == 2 and error["error"]["field"] == "format"
    manifest = json.loads((scorecard_dir / "manifest.json").read_text())
    victim = scorecard_dir / sorted(manifest["files_sha256"])[0]
    victim.write_bytes(victim.read_bytes() + b"\0")  # tampered: its sha256 no longer matches
    code, error = _run("model", "scorecard", "--model", str(scorecard_dir))
    assert code == 2 and error["error"]["field"] == "model" and "sha256" in error["error"]["message"]
    plain = runner.invoke(app, ["model", "scorecard", "--model", str(tmp_path / "nowhere")])
    assert plain.exit_code == 2 and "Traceback" not in plain.output


def test_evaluate_json_keeps_iv(scorecard_dir: Path, csv_path: Path, scorecard: CreditModel) -> None:
    code, metrics = _run("model", "evaluate", "--model", str(scorecard_dir), "--data", str(csv_path),
                         "--target", "target", "--bad-value", "bad")
    assert code == 0 and set(metrics["iv"]) == set(scorecard.spec.names)
    assert all(isinstance(value, float) and value >= 0 for value in metrics["iv"].values())
    assert metrics["iv"]["debt_ratio"] > 0.3 > metrics["iv"]["noise"]  # the planted driver vs noise
    # a yes/no column is binned by value: its IV is the cross-tab's (+0.5 smoothing moves it < 0.001)
    frame = pl.read_csv(csv_path)
    counts = frame.group_by("owns_home").agg((pl.col("target") == "bad").sum().alias("bads"),
                                             (pl.col("target") == "good").sum().alias("goods"))
    bad_share = counts["bads"].to_numpy() / counts["bads"].sum()
    good_share = counts["goods"].to_numpy() / counts["goods"].sum()
    crosstab = float(np.sum((good_share - bad_share) * np.log(good_share / bad_share)))
    assert crosstab > 0.01 and metrics["iv"]["owns_home"] == pytest.approx(crosstab, abs=1e-3)
