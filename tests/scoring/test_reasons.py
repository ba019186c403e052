"""Reason codes say why, as the model sees it: direction from the model (paths, best bin), never from
the median; readable names and units from a data dictionary; never against a monotone constraint."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.scoring import CreditModel, DataError, TrainOptions, load_artifact, save_artifact, train_credit_model
from lendstack.scoring import dictionary as dictionary_module
from lendstack.scoring.dictionary import (
    ENTRIES_MAX,
    attach_dictionary,
    format_value,
    load_dictionary,
    sim_dictionary,
    stored_dictionary,
)
from lendstack.scoring.explain import Reason, reason_text, top_reasons
from lendstack.scoring.features import FeatureDef, FeatureSpec
from lendstack.sim import FIELDS

runner = CliRunner()
SERIAL = {"n_jobs": 1}  # one LightGBM thread per test worker (as conftest.SERIAL)


def _all_reasons(credit: CreditModel, frame: pl.DataFrame, k: int = 6) -> list[tuple[int, Reason]]:
    return [(i, reason) for i, reasons in enumerate(credit.explain(frame, k)) for reason in reasons]


# --------------------------------------------------------------------------- direction from the model


@pytest.mark.parametrize("kind", ["gbm", "scorecard"])
def test_planted_driver_reads_high(kind: str, request: pytest.FixtureRequest, frame: pl.DataFrame) -> None:
    """PD rises with debt_ratio: every adverse reason on it says "high", whatever the median says."""
    credit: CreditModel = request.getfixturevalue(kind)
    on_debt = [r for _i, r in _all_reasons(credit, frame.head(400)) if r.feature == "debt_ratio"]
    assert len(on_debt) >= 100, len(on_debt)
    assert {r.direction for r in on_debt} == {"high"}
    assert all("is high" in r.text_en and "raises risk" in r.text_en and "偏高" in r.text_zh for r in on_debt)


def _income_frame(rows: int = 3000, seed: int = 1) -> pl.DataFrame:
    """PD falls with income (no monotone constraint given: the direction must come from the model)."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8.5, 0.6, rows)
    age = rng.integers(20, 70, rows)
    z = 1.5 - 1.4 * (np.log(income) - 8.5) / 0.6 + rng.normal(0, 0.3, rows) - 2.5
    bad = rng.random(rows) < 1 / (1 + np.exp(-z))
    return pl.DataFrame({"income": income, "age": age, "target": np.where(bad, "bad", "good")})


@pytest.fixture(scope="module")
def income_frame() -> pl.DataFrame:
    return _income_frame()


@pytest.mark.parametrize("kind", ["gbm", "scorecard"])
def test_income_that_lowers_risk_reads_low(kind: str, income_frame: pl.DataFrame) -> None:
    credit, _ = train_credit_model(income_frame, "target", TrainOptions(kind=kind, bad_value="bad", gbm_params=SERIAL))
    median = float(np.median(income_frame["income"].to_numpy()))
    on_income = [(i, r) for i, r in _all_reasons(credit, income_frame.head(600)) if r.feature == "income"]
    assert len(on_income) >= 100, len(on_income)
    assert {r.direction for _i, r in on_income} == {"low"}
    assert all("is low" in r.text_en and "lower income raises risk" in r.text_en and "偏低" in r.text_zh
               for _i, r in on_income)
    # Adverse income reasons come from the low side; most of them sit below the median too.
    below = sum(income_frame["income"][i] < median for i, _r in on_income)
    assert below >= 0.6 * len(on_income)


def _skewed_frame(rows: int = 4000, seed: int = 2) -> pl.DataFrame:
    """`usage` is mostly high (median ≈ 0.8) and PD rises with it: a row at 0.5 is below the median
    but has lost points for being high (the best bin is at the lowest values)."""
    rng = np.random.default_rng(seed)
    usage = rng.beta(5.0, 1.5, rows)
    other = rng.normal(size=rows)
    z = -5.0 + 6.0 * usage + 0.3 * other
    bad = rng.random(rows) < 1 / (1 + np.exp(-z))
    return pl.DataFrame({"usage": usage, "other": other, "target": np.where(bad, "bad", "good")})


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_below_the_median_but_adverse_for_being_high_reads_high(kind: str) -> None:
    """The case the old median rule got wrong ("Low value of usage"): the new text says high."""
    data = _skewed_frame()
    credit, _ = train_credit_model(data, "target", TrainOptions(kind=kind, bad_value="bad", gbm_params=SERIAL))
    usage = next(f for f in credit.spec.features if f.name == "usage")
    reasons = [(i, r) for i, r in _all_reasons(credit, data.head(1500)) if r.feature == "usage"]
    below_median = [(i, r) for i, r in reasons if data["usage"][i] < usage.median]
    assert len(below_median) >= 20, (len(reasons), len(below_median))
    for i, reason in below_median:
        assert reason.direction == "high", (data["usage"][i], reason)
        assert reason.text_en.startswith("usage is high (") and "higher usage raises risk" in reason.text_en
        assert "usage偏高" in reason.text_zh and "越高风险越高" in reason.text_zh
    if kind == "scorecard":  # the points lost are real: this row's bin scores below the best bin
        assert all(r.impact > 0 for _i, r in below_median)


@pytest.mark.parametrize("kind", ["gbm", "scorecard"])
def test_binary_reason_names_the_risky_value(kind: str, request: pytest.FixtureRequest, frame: pl.DataFrame) -> None:
    """owns_home = yes lowers PD (planted −0.4): an adverse owns_home reason is "no", never "yes"."""
    credit: CreditModel = request.getfixturevalue(kind)
    owns = [(i, r) for i, r in _all_reasons(credit, frame.head(800), k=5) if r.feature == "owns_home"]
    assert len(owns) >= 30, len(owns)
    for i, reason in owns:
        assert frame["owns_home"][i] == "no" and reason.value == "no" and reason.direction == "low", reason
        assert reason.text_en == "owns_home is no: 'no' carries more risk than 'yes'"
        assert reason.text_zh == "owns_home为「否」：「否」比「是」风险更高"


def test_binary_text_cannot_contradict_its_value() -> None:
    feature = FeatureDef("student", "binary")
    assert reason_text(feature, 1.0, "high")[0] == "student is yes: 'yes' carries more risk than 'no'"
    with pytest.raises(AssertionError, match="student"):
        reason_text(feature, 0.0, "high")  # "no" can only take the low side


def test_missing_and_level_texts() -> None:
    segment = FeatureDef("segment", "categorical", ("retail", "farming", "ride-hailing"))
    assert reason_text(segment, 2.0, "level", best_level="retail") == (
        "segment is 'ride-hailing': this level carries more risk than 'retail'",
        "segment为「ride-hailing」：该类别的风险高于「retail」")
    income = FeatureDef("income", "numeric", median=3.0)
    assert reason_text(income, math.nan, "missing") == (
        "income is missing: a missing value raises risk", "income缺失：缺失使风险升高")


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_a_risky_category_reads_level(kind: str) -> None:
    rng = np.random.default_rng(4)
    rows = 2500
    segment = rng.choice(["retail", "farming", "ride-hailing"], rows)
    other = rng.normal(size=rows)
    z = -2.0 + np.where(segment == "ride-hailing", 1.8, 0.0) + 0.3 * other
    bad = rng.random(rows) < 1 / (1 + np.exp(-z))
    data = pl.DataFrame({"segment": segment, "other": other, "target": np.where(bad, "bad", "good")})
    credit, _ = train_credit_model(data, "target", TrainOptions(kind=kind, bad_value="bad", gbm_params=SERIAL))
    levels = [(i, r) for i, r in _all_reasons(credit, data.head(600)) if r.feature == "segment"]
    assert len(levels) >= 50 and {r.direction for _i, r in levels} == {"level"}
    risky = [r for i, r in levels if data["segment"][i] == "ride-hailing"]
    rest = [r.impact for i, r in levels if data["segment"][i] != "ride-hailing"]  # retail vs farming: noise
    assert len(risky) >= 0.95 * int((data["segment"].head(600) == "ride-hailing").sum())
    assert np.mean([r.impact for r in risky]) > 3 * (np.mean(rest) if rest else 0.0)
    assert risky[0].text_en.startswith("segment is 'ride-hailing': this level")
    if kind == "scorecard":  # the scorecard names the best bin's levels
        assert "carries more risk than '" in risky[0].text_en and "风险高于「" in risky[0].text_zh


# --------------------------------------------------------------------------- monotone constraints


def _spec(*names: str) -> FeatureSpec:
    return FeatureSpec("t", "1", tuple(FeatureDef(name, "numeric", median=0.5) for name in names))


def test_top_reasons_skips_a_direction_the_constraint_forbids() -> None:
    spec = _spec("debt", "income", "age")
    row = np.array([0.2, 900.0, 30.0])
    impacts = np.array([0.9, 0.5, 0.1])
    kwargs = {"directions": ["low", "high", "high"], "monotone": {"debt": 1, "income": -1}}
    assert top_reasons(spec, row, impacts, spec.names, 3, **kwargs) == [  # type: ignore[arg-type]
        Reason("age", 0.1, "30", "age is high (30): higher age raises risk", "age偏高（30）：age越高风险越高", "high")]
    allowed = top_reasons(spec, row, impacts, spec.names, 3, directions=["high", "low", "high"],
                          monotone={"debt": 1, "income": -1})
    assert [r.feature for r in allowed] == ["debt", "income", "age"]
    assert top_reasons(spec, row, impacts, spec.names, 1, directions=[None, "low", "high"])[0].feature == "income"


def test_gbm_reasons_respect_its_constraints(frame: pl.DataFrame) -> None:
    options = TrainOptions(kind="gbm", bad_value="bad", monotone={"debt_ratio": 1, "income": -1, "noise": 1},
                           gbm_params=SERIAL)
    credit, _ = train_credit_model(frame, "target", options)
    reasons = [r for _i, r in _all_reasons(credit, frame.head(600), k=5)]
    by_feature = {name: {r.direction for r in reasons if r.feature == name} for name in ("debt_ratio", "income")}
    assert by_feature["debt_ratio"] == {"high"}
    assert "high" not in by_feature["income"] and by_feature["income"]  # low or missing only
    assert not [r for r in reasons if r.feature == "noise" and r.direction == "low"]


# --------------------------------------------------------------------------- dictionary and units


def test_sim_dictionary_formats_money_and_shares() -> None:
    words = sim_dictionary(FIELDS)
    income = words.get("monthly_income_minor")
    assert income is not None and income.unit == "CNY fen" and income.meaning_zh == "月收入"
    assert format_value(570200, income.unit) == ("5,702.00 CNY", "5,702.00 元")
    assert format_value(0.352, "share") == ("35.2%", "35.2%")
    assert format_value(81910, "USD minor") == ("819.10 USD", "819.10 美元")
    assert format_value(819.1, "USD") == ("819.10 USD", "819.10 美元")
    assert format_value(18, "months") == ("18 months", "18个月")
    assert format_value(math.nan, "CNY fen") == ("missing", "缺失")
    spec = FeatureSpec("sim", "1", (FeatureDef("monthly_income_minor", "numeric", median=800000.0),))
    reason = top_reasons(spec, np.array([570200.0]), np.array([0.4]), spec.names, 1, directions=["low"],
                         dictionary=words)[0]
    assert reason.value == "5,702.00 CNY"
    assert reason.text_en == "monthly personal income is low (5,702.00 CNY): lower monthly personal income raises risk"
    assert reason.text_zh == "月收入偏低（5,702.00 元）：月收入越低风险越高"
    # Every simulator feature has a short meaning in both languages (no formulas, no value lists).
    assert words.get("debt_to_income").meaning_en == "debt-to-income ratio"  # type: ignore[union-attr]
    features = [words.get(name) for name, doc in FIELDS.items() if doc.role == "feature"]
    assert all(e is not None and len(e.meaning_en) <= 50 and "：" not in e.meaning_zh for e in features), features


def test_dictionary_from_csv_and_yaml(tmp_path: Path) -> None:
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("column,meaning_en,meaning_zh,unit\nbalance,balance,余额,USD\nstudent,student,,\n",
                        encoding="utf-8")
    words = load_dictionary(csv_file)
    assert words.get("balance").unit == "USD" and words.get("student").meaning_zh == "student"  # type: ignore[union-attr]
    listed = tmp_path / "d.yaml"
    listed.write_text("- {column: balance, meaning_en: balance, meaning_zh: 余额, unit: USD}\n", encoding="utf-8")
    mapped = tmp_path / "d.yml"
    mapped.write_text("balance:\n  meaning_en: balance\n  meaning_zh: 余额\n  unit: USD\n", encoding="utf-8")
    assert load_dictionary(listed).entries == load_dictionary(mapped).entries == {"balance": words.get("balance")}
    spec = FeatureSpec("t", "1", (FeatureDef("balance", "numeric", median=1000.0),))
    reason = top_reasons(spec, np.array([819.1]), np.array([0.7]), spec.names, 1, directions=["high"],
                         dictionary=words)[0]
    assert (reason.text_en, reason.text_zh) == ("balance is high (819.10 USD): higher balance raises risk",
                                                "余额偏高（819.10 美元）：余额越高风险越高")


@pytest.mark.parametrize(("name", "content", "field"), [
    ("d.txt", "column,meaning_en\nx,y\n", "dictionary"),
    ("d.csv", "column,meaning_en,meaning_cn\nx,y,z\n", "dictionary.meaning_cn"),
    ("d.csv", "column,unit\nx,CNY fen\n", "dictionary.meaning_en"),
    ("d.csv", "column,meaning_en\n,income\n", "dictionary.column"),
    ("d.csv", "column,meaning_en\nx,\n", "dictionary.meaning_en"),
    ("d.csv", "column,meaning_en\nx,one\nx,two\n", "dictionary.column"),
    ("d.csv", "column,meaning_en\nx,one,extra\n", "dictionary"),
    ("d.csv", "column,meaning_en\n", "dictionary"),
    ("d.csv", "column,meaning_en\nx," + "a" * 201 + "\n", "dictionary.meaning_en"),
    ("d.yaml", "column: [unclosed\n", "dictionary"),
    ("d.yaml", "just text\n", "dictionary"),
    ("d.yaml", "x: not a mapping\n", "dictionary"),
    ("d.yaml", "- {column: x, meaning_en: y, colour: red}\n", "dictionary.colour"),
])
def test_malformed_dictionary_names_the_field(tmp_path: Path, name: str, content: str, field: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_dictionary(path)
    assert caught.value.column == field, caught.value


def test_dictionary_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dictionary(tmp_path / "absent.csv")
    many = tmp_path / "many.csv"
    many.write_text("column,meaning_en\n" + "".join(f"c{i},m{i}\n" for i in range(ENTRIES_MAX + 1)), "utf-8")
    with pytest.raises(DataError, match=f"more than {ENTRIES_MAX} entries"):
        load_dictionary(many)
    monkeypatch.setattr(dictionary_module, "FILE_BYTES_MAX", 100)
    with pytest.raises(DataError, match="larger than"):
        load_dictionary(many)


def test_dictionary_is_saved_with_the_model_and_in_the_hash(gbm: CreditModel, frame: pl.DataFrame,
                                                            tmp_path: Path) -> None:
    bare = save_artifact(gbm, tmp_path / "bare")
    credit, _ = train_credit_model(frame, "target", TrainOptions(kind="gbm", bad_value="bad",
                                                                 monotone={"debt_ratio": 1}, gbm_params=SERIAL))
    words = dictionary_module.from_records([{"column": "debt_ratio", "meaning_en": "debt ratio",
                                             "meaning_zh": "负债比", "unit": "share"}], "test")
    attach_dictionary(credit, words)
    manifest = save_artifact(credit, tmp_path / "worded")
    assert manifest["content_sha256"] != bare["content_sha256"]
    assert manifest["audit"]["dictionary"]["columns"][0]["column"] == "debt_ratio"
    loaded = load_artifact(tmp_path / "worded")
    assert stored_dictionary(loaded) == words and stored_dictionary(load_artifact(tmp_path / "bare")) is None
    risky = frame.filter(frame["debt_ratio"] > 0.9).head(5)
    first = loaded.explain(risky, 1)[0][0]
    assert first.feature == "debt_ratio" and first.text_en.startswith("debt ratio is high (9")
    assert first.value.endswith("%") and "负债比偏高" in first.text_zh


def test_old_reason_shape_still_reads() -> None:
    stored = {"feature": "x", "impact": 0.1, "value": "1", "text_en": "High value of x (1)", "text_zh": "x 偏高（1）"}
    assert Reason(**stored).direction == ""


# --------------------------------------------------------------------------- CLI


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_cli_train_and_explain_with_a_dictionary(csv_path: Path, tmp_path: Path) -> None:
    words = tmp_path / "words.csv"
    words.write_text("column,meaning_en,meaning_zh,unit\ndebt_ratio,debt ratio,负债比,share\n", encoding="utf-8")
    code, trained = _run("model", "train", "--data", str(csv_path), "--target", "target", "--bad-value", "bad",
                         "--out", str(tmp_path / "m"), "--threads", "1", "--dictionary", str(words))
    assert code == 0, trained
    code, explained = _run("model", "explain", "--model", str(tmp_path / "m"), "--data", str(csv_path),
                           "--row", "0", "--top", "5")
    assert code == 0 and explained["dictionary"] == "words.csv"
    reasons = explained["reasons"]
    assert isinstance(reasons, list) and reasons and all(r["direction"] in ("high", "low", "level", "missing")
                                                         for r in reasons)
    debt = [r for r in reasons if r["feature"] == "debt_ratio"]
    assert debt and debt[0]["text_en"].startswith("debt ratio is high (") and "负债比偏高" in debt[0]["text_zh"]
    other = tmp_path / "other.yaml"
    other.write_text("debt_ratio: {meaning_en: leverage, meaning_zh: 杠杆, unit: share}\n", encoding="utf-8")
    code, shown = _run("model", "explain", "--model", str(tmp_path / "m"), "--data", str(csv_path), "--row", "0",
                       "--top", "5", "--dictionary", str(other))
    assert code == 0 and shown["dictionary"] == "other.yaml"
    assert next(r["text_en"] for r in shown["reasons"] if r["feature"] == "debt_ratio").startswith("leverage is high")
    bad = tmp_path / "bad.csv"
    bad.write_text("column\nx\n", encoding="utf-8")
    code, error = _run("model", "explain", "--model", str(tmp_path / "m"), "--dictionary", str(bad))
    assert code == 2 and error["error"] == {"field": "dictionary.meaning_en", "message": "required field is missing",
                                            "kind": "invalid"}
    code, error = _run("model", "train", "--data", str(csv_path), "--target", "target", "--bad-value", "bad",
                       "--out", str(tmp_path / "m2"), "--dictionary", str(bad))
    assert code == 2 and error["error"]["field"] == "dictionary.meaning_en"
    assert not (tmp_path / "m2").exists()  # refused before training


def test_cli_explain_table_shows_direction(csv_path: Path, tmp_path: Path, gbm: CreditModel) -> None:
    save_artifact(gbm, tmp_path / "m")
    result = runner.invoke(app, ["model", "explain", "--model", str(tmp_path / "m"), "--row", "0", "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "direction" in result.output and "raises risk" in result.output


def test_online_scorecard_reasons_equal_offline(scorecard: CreditModel, frame: pl.DataFrame) -> None:
    from lendstack.decisioning import ScoringModel

    online = ScoringModel(scorecard, "t", "0" * 64)
    rows = frame.head(60)
    offline = scorecard.explain(rows, 3)
    for row, expected in zip(rows.to_dicts(), offline, strict=True):
        got = online.reasons(row, 3)
        assert [(r.feature, r.direction, r.text_en) for r in got] == [(r.feature, r.direction, r.text_en)
                                                                       for r in expected]
    assert sum(len(r) for r in offline) >= 60
