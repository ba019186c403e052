"""Champion / challenger comparison on German credit: a scorecard against a GBM on the same
held-out rows (paired DeLong, swap sets, calibration side by side) and through the CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.scoring import CreditModel, DataError, TrainOptions, save_artifact, train_credit_model
from lendstack.scoring.compare import Contender, approvals, compare_models, render_html

runner = CliRunner()
GERMAN = Path(__file__).resolve().parents[1] / "data" / "german_credit.csv"
SERIAL = {"n_jobs": 1}


@pytest.fixture(scope="module")
def german() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.read_csv(GERMAN).sample(fraction=1.0, shuffle=True, seed=5)
    return frame.head(700), frame.tail(300)


@pytest.fixture(scope="module")
def pair(german: tuple[pl.DataFrame, pl.DataFrame]) -> tuple[Contender, Contender]:
    train, _ = german
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorecard, _ = train_credit_model(train, "creditability", TrainOptions(kind="scorecard", bad_value="bad"))
        gbm, _ = train_credit_model(train, "creditability", TrainOptions(kind="gbm", bad_value="bad",
                                                                         gbm_params=SERIAL))
    return Contender("scorecard", scorecard, "a" * 64), Contender("gbm", gbm, "b" * 64)


def _y(holdout: pl.DataFrame) -> np.ndarray:
    return (holdout["creditability"] == "bad").cast(pl.Int8).to_numpy()


def test_scorecard_against_gbm_on_german(pair: tuple[Contender, Contender],
                                         german: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    a, b = pair
    holdout = german[1]
    result = compare_models(a, b, holdout, "creditability", approval_rate=0.7)
    y = _y(holdout)
    pd_a, pd_b = a.credit.predict_pd(holdout), b.credit.predict_pd(holdout)
    assert result["a"]["auc"] == pytest.approx(roc_auc_score(y, pd_a))
    assert result["b"]["auc"] == pytest.approx(roc_auc_score(y, pd_b))
    diff = result["auc_difference"]
    assert diff["difference"] == pytest.approx(result["a"]["auc"] - result["b"]["auc"])
    assert diff["ci95"][0] < diff["difference"] < diff["ci95"][1] and 0.0 < diff["p_value"] <= 1.0
    cells = {s["set"]: s for s in result["swap_sets"]}
    assert sum(s["count"] for s in cells.values()) == 300
    assert cells["both_approve"]["count"] + cells["a_only"]["count"] == 210 == result["a"]["approved"]
    assert cells["a_only"]["count"] == cells["b_only"]["count"]  # the same approval rate: as many in as out
    approved_a = np.argsort(pd_a, kind="stable")[:210]
    declined_b = set(np.argsort(pd_b, kind="stable")[210:].tolist())
    swapped = [row for row in approved_a.tolist() if row in declined_b]
    assert cells["a_only"]["bads"] == int(y[swapped].sum())  # recomputed here from the PDs
    for cell in cells.values():
        if cell["count"]:
            lo, hi = cell["bad_rate_ci95"]
            assert lo <= cell["bad_rate"] <= hi
    assert len(result["calibration"]) == 10 and sum(r["a_count"] for r in result["calibration"]) == 300
    page = render_html(result)
    assert "<script" not in page and "paired DeLong" in page and "仅A批准" in page


def test_a_model_against_itself_differs_by_zero(pair: tuple[Contender, Contender],
                                                german: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    a, _ = pair
    result = compare_models(a, a, german[1], "creditability", cutoff=0.3)
    assert result["auc_difference"]["difference"] == 0.0 and result["auc_difference"]["ci95"] == [0.0, 0.0]
    assert result["auc_difference"]["p_value"] == 1.0
    cells = {s["set"]: s["count"] for s in result["swap_sets"]}
    assert cells["a_only"] == cells["b_only"] == 0
    assert cells["both_approve"] == int((a.credit.predict_pd(german[1]) <= 0.3).sum())


def test_missing_features_and_bad_cutoffs_name_the_field(pair: tuple[Contender, Contender],
                                                         german: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    a, b = pair
    holdout = german[1]
    with pytest.raises(DataError) as info:
        compare_models(a, b, holdout.drop("duration_in_month"), "creditability")
    assert info.value.column == "duration_in_month" and "scorecard" in info.value.message
    with pytest.raises(DataError) as info:
        compare_models(a, b, holdout, "creditability", approval_rate=0.7, cutoff=0.2)
    assert info.value.column == "cutoff"
    with pytest.raises(DataError) as info:
        compare_models(a, b, holdout, "creditability", approval_rate=1.5)
    assert info.value.column == "approval-rate"
    with pytest.raises(DataError) as info:
        compare_models(a, b, holdout, "outcome")
    assert info.value.column == "outcome"


def test_approvals_at_a_rate_take_exactly_the_share() -> None:
    pd = np.array([0.5, 0.1, 0.1, 0.9, 0.2])
    assert approvals(pd, 0.6, None).tolist() == [False, True, True, False, True]
    assert approvals(pd, None, 0.2).tolist() == [False, True, True, False, True]


def test_compare_command(pair: tuple[Contender, Contender], german: tuple[pl.DataFrame, pl.DataFrame],
                         tmp_path: Path) -> None:
    for contender in pair:
        save_artifact(contender.credit, tmp_path / contender.label)
    holdout = tmp_path / "holdout.csv"
    german[1].write_csv(holdout)
    report = tmp_path / "compare.html"
    args = ["model", "compare", "--models", str(tmp_path / "scorecard"), str(tmp_path / "gbm"), "--data", str(holdout),
            "--target", "creditability", "--report", str(report)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["a"]["label"].endswith("scorecard") and len(document["a"]["content_sha256"]) == 64
    assert document["cutoff"] == {"approval_rate": 0.7, "pd": None} and report.is_file()
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "paired DeLong" in result.stdout
    german[1].drop("purpose").write_csv(holdout)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["field"] == "purpose"


def test_models_with_different_bad_values_need_one(pair: tuple[Contender, Contender],
                                                   german: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    a, b = pair
    other = Contender("other", _with_bad_value(b.credit, "good"))
    with pytest.raises(DataError) as info:
        compare_models(a, other, german[1], "creditability")
    assert info.value.column == "bad-value"
    assert compare_models(a, other, german[1], "creditability", "bad")["bads"] == int(_y(german[1]).sum())


def _with_bad_value(credit: CreditModel, bad_value: str) -> CreditModel:
    import copy

    twin = copy.copy(credit)
    twin.bad_value = bad_value
    return twin


def test_comparing_on_a_models_own_training_file_warns_that_it_is_in_sample() -> None:
    from lendstack.scoring import TrainOptions, read_table, train_credit_model
    from lendstack.scoring.compare import Contender, compare_models

    frame = read_table(Path(__file__).resolve().parents[1] / "data" / "german_credit.csv")
    train, holdout = frame[:700], frame[700:]
    options = TrainOptions(kind="gbm", gbm_params={"n_jobs": 1})
    credit, _ = train_credit_model(train, "creditability", options)
    own = Contender("own", credit, "x")
    in_sample = compare_models(own, own, train, "creditability")
    assert len(in_sample["warnings"]) == 2 and "in-sample" in in_sample["warnings"][0]
    assert compare_models(own, own, holdout, "creditability")["warnings"] == []
