from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.scoring import TrainOptions, encode_target, read_table, train_credit_model
from lendstack.scoring.credit_model import cv_folds_auc

runner = CliRunner()
GERMAN = Path(__file__).resolve().parents[1] / "data" / "german_credit.csv"


def _run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


def test_train_evaluate_explain_list_promote(csv_path: Path, tmp_path: Path) -> None:
    code, trained = _run("model", "train", "--data", str(csv_path), "--target", "target", "--bad-value", "bad",
                         "--out", str(tmp_path / "m"), "--registry", str(tmp_path / "reg"), "--kind", "scorecard")
    assert code == 0 and trained["auc"] > 0.7 and trained["registry_version"] == "v0001"
    code, metrics = _run("model", "evaluate", "--model", str(tmp_path / "m"), "--data", str(csv_path),
                         "--target", "target", "--bad-value", "bad")
    assert code == 0 and metrics["auc"] > 0.7 and "psi" in metrics and "calibration" in metrics
    code, explained = _run("model", "explain", "--model", str(tmp_path / "m"), "--data", str(csv_path), "--row", "3")
    assert code == 0 and 0 < explained["pd"] < 1
    assert _run("model", "promote", "--registry", str(tmp_path / "reg"), "v0001") == (0, {"champion": "v0001"})
    code, listed = _run("model", "list", "--registry", str(tmp_path / "reg"))
    assert listed["versions"][0]["champion"] is True


def test_leak_error_names_column_and_writes_nothing(frame: pl.DataFrame, tmp_path: Path) -> None:
    leaky = frame.with_columns(pl.when(pl.col("target") == "bad").then(1.0).otherwise(0.0).alias("charged_off"))
    path = tmp_path / "leaky.csv"
    leaky.write_csv(path)
    code, error = _run("model", "train", "--data", str(path), "--target", "target", "--bad-value", "bad",
                       "--out", str(tmp_path / "m"), "--registry", str(tmp_path / "reg"))
    assert code == 2 and error["error"]["field"] == "charged_off"
    assert not (tmp_path / "m").exists() and not (tmp_path / "reg").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.with_columns(pl.lit("x").alias("target")), "target"),
        (lambda f: f.with_columns(pl.Series("target", ["a", "b", "c"] * 500)), "target"),
        (lambda f: f.head(200).with_columns(pl.Series("target", ["bad"] * 10 + ["good"] * 190)), "target"),
    ],
)
def test_bad_targets_exit_2_naming_column(change, field: str, frame: pl.DataFrame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.csv"
    change(frame).write_csv(path)
    code, error = _run("model", "train", "--data", str(path), "--target", "target", "--out", str(tmp_path / "m"))
    assert code == 2 and error["error"]["field"] == field
    assert not (tmp_path / "m").exists()


def test_unparseable_and_missing_target(tmp_path: Path, csv_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_text("garbage")
    assert _run("model", "train", "--data", str(broken), "--target", "t", "--out", str(tmp_path / "m"))[0] == 2
    code, error = _run("model", "train", "--data", str(csv_path), "--target", "nope", "--out", str(tmp_path / "m"))
    assert code == 2 and error["error"]["field"] == "nope"


def test_german_cv_auc_sanity() -> None:
    frame = read_table(GERMAN)
    y = encode_target(frame["creditability"], "bad")
    assert int(y.sum()) == 300 and len(y) == 1000
    result = cv_folds_auc(frame.drop("creditability"), y, folds=5, seed=0)
    assert result["gbm"] >= 0.75 and result["scorecard"] >= 0.75
    assert np.isfinite(list(result.values())).all()
    credit, _ = train_credit_model(frame, "creditability", TrainOptions(kind="gbm", bad_value="bad"))
    assert credit.metrics["auc"] > 0.7
