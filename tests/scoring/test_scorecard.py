"""Scorecards a validator can read: the WoE sign check and the points table (issue 13 §4)."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]
from tests.scoring.conftest import make_frame

from lendstack.scoring import (
    CreditModel,
    DataError,
    FeaturePipeline,
    ScorecardModel,
    TrainOptions,
    encode_target,
    read_table,
    train_credit_model,
)
from lendstack.scoring.features import FeatureDef
from lendstack.scoring.scorecard import (
    CSV_COLUMNS,
    ScorecardBin,
    ScorecardTable,
    _integer_label,
    _interval_label,
    _number,
    _sign_notes,
    scorecard_table,
    to_csv,
    to_html,
    to_json,
)

GERMAN = Path(__file__).resolve().parents[1] / "data" / "german_credit.csv"
CHANNELS = ("<b>web</b>", "=branch", "phone")  # names that need HTML escaping / CSV formula guarding


def islr_default(rows: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """ISLR `Default`-like data: students carry higher balances (so their bad rate is higher), but
    at a given balance a student is *less* likely to default: on WoE, student's coefficient in the
    joint regression comes out positive (the wrong sign)."""
    rng = np.random.default_rng(seed)
    student = (rng.random(rows) < 0.3).astype(float)
    balance = np.clip(rng.normal(800 + 500 * student, 400), 0, None)
    z = -10.0 + 0.0055 * balance - 0.8 * student
    y = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(int)
    return np.column_stack([balance, student]), y


def _points_fall_as_bad_rate_rises(model: ScorecardModel) -> None:
    """The scorecard invariant: within each feature, a riskier (non-empty) bin never earns more."""
    for name in model.selected_features():
        rows = sorted((r["bad_rate"], r["points"]) for r in model.points_table_ if r["feature"] == name)
        points = [p for _, p in rows]
        assert all(b <= a + 1e-9 for a, b in itertools.pairwise(points)), (name, rows)


# --------------------------------------------------------------------------- the sign check


def test_optbinning_woe_is_higher_for_safer_bins() -> None:
    """The sign check rests on optbinning's convention WoE = ln(good share / bad share): verify it."""
    X, y = islr_default()
    model = ScorecardModel(feature_names=["balance", "student"], sign_check=False).fit(X, y)
    rows = [r for r in model.points_table_ if r["feature"] == "balance"]
    assert len(rows) >= 3
    by_rate = sorted(rows, key=lambda r: r["bad_rate"])
    assert by_rate[0]["woe"] > 0 > by_rate[-1]["woe"]
    assert all(b["woe"] < a["woe"] for a, b in itertools.pairwise(by_rate))


def test_wrong_sign_from_collinearity_is_dropped_with_a_message() -> None:
    X, y = islr_default()
    names = ["balance", "student"]
    unchecked = ScorecardModel(feature_names=names, sign_check=False).fit(X, y)
    coef = dict(zip(unchecked.selected_features(), unchecked.logistic_.coef_[0], strict=True))
    assert coef["student"] > 0 > coef["balance"]  # the data do produce the wrong sign
    assert unchecked.sign_dropped_ == [] and unchecked.notes_ == []
    assert _sign_notes(unchecked) == ["fitted without the sign check",
                                      f"student: coefficient {coef['student']:+.4f} > 0: riskier bins earn MORE points"]

    checked = ScorecardModel(feature_names=names).fit(X, y)
    assert checked.selected_features() == ["balance"]
    assert np.all(checked.logistic_.coef_[0] <= 0)
    [(feature, coefficient, message)] = checked.sign_dropped_
    assert feature == "student" and coefficient == pytest.approx(coef["student"])
    assert message.startswith(f"student: dropped: its coefficient on WoE has the wrong sign (+{coefficient:.2f})")
    assert "riskier bins would earn more points" in message and "balance" in message
    assert checked.notes_ == [message]
    assert _sign_notes(checked) == ["sign check: every coefficient is ≤ 0"]
    _points_fall_as_bad_rate_rises(checked)
    # The model still scores every column of the input and its points still sum to the score.
    assert checked.points(X[:10]).shape == (10, 1)
    np.testing.assert_allclose(checked.points(X[:10]).sum(axis=1), checked.score(X[:10]), atol=1e-9)
    np.testing.assert_allclose(checked.score(X[:10]), checked.offset_ - checked.factor_ * checked.decision_function(
        X[:10]), atol=1e-9)


def test_german_folds_keep_no_wrong_sign() -> None:
    """German Credit, default pipeline, 5 training folds: whatever the sign check finds, no wrong
    sign survives, every wrong sign of the unchecked fit is among the dropped, and points fall as
    the bad rate rises."""
    frame = read_table(GERMAN)
    y = encode_target(frame["creditability"], "bad")
    X = frame.drop("creditability")
    drops = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train_idx, _ in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
            pipe = FeaturePipeline().fit(X[train_idx], y[train_idx])
            matrix, names = pipe.transform(X[train_idx]), pipe.spec_.names
            checked = ScorecardModel(feature_names=names).fit(matrix, y[train_idx])
            assert np.all(checked.logistic_.coef_[0] <= 0)
            _points_fall_as_bad_rate_rises(checked)
            # The unchecked fit, by hand: one regression on the WoE of every feature optbinning kept.
            binned = [n for n, kept in zip(names, checked.binning_.get_support(), strict=True) if kept]
            woe = checked.binning_.transform(matrix, metric="woe", metric_missing="empirical")
            coef = LogisticRegression(C=checked.C, max_iter=1000).fit(woe, y[train_idx]).coef_[0]
            wrong = {name for name, c in zip(binned, coef, strict=True) if c > 0}
            dropped = {feature for feature, _, _ in checked.sign_dropped_}
            assert wrong <= dropped and not dropped & set(checked.selected_features())
            assert set(checked.selected_features()) | dropped == set(binned)
            drops += len(dropped)
    print(f"German: {drops} wrong-sign drops in 5 folds")  # shown with -s; the truth of this data


# --------------------------------------------------------------------------- the points table


def _frame(rows: int = 3000) -> pl.DataFrame:
    base = make_frame(rows, seed=3)
    rng = np.random.default_rng(3)
    channel = rng.choice(CHANNELS, rows)
    months = rng.choice(np.arange(6, 61, 6), rows)
    bad = base["target"].to_numpy() == "bad"
    # plant effects on channel and months by flipping some goods to bad
    lift = (channel == "=branch") * 0.25 + (months >= 36) * 0.2
    bad = bad | (rng.random(rows) < lift)
    return base.with_columns(pl.Series("channel", channel), pl.Series("months", months),
                             pl.Series("target", np.where(bad, "bad", "good")))


@pytest.fixture(scope="module")
def credit() -> CreditModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train_credit_model(_frame(), "target", TrainOptions(kind="scorecard", bad_value="bad"))
    return model


@pytest.fixture(scope="module")
def table(credit: CreditModel) -> ScorecardTable:
    return scorecard_table(credit)


def test_table_scaling_and_coverage(credit: CreditModel, table: ScorecardTable) -> None:
    scorecard: ScorecardModel = credit.base
    assert (table.base_points, table.base_odds, table.pdo) == (600.0, 50.0, 20.0)
    assert table.factor == pytest.approx(20 / math.log(2))
    assert table.offset == pytest.approx(600 - table.factor * math.log(50))
    n = len(table.features)
    assert table.constant_per_feature == pytest.approx((table.offset - table.factor * table.intercept) / n)
    assert [f.name for f in table.features] == scorecard.selected_features()
    assert {"debt_ratio", "channel", "months"} <= {f.name for f in table.features}
    for feature in table.features:
        assert feature.coefficient <= 0 and feature.iv > 0
        assert feature.bins[-1].label.startswith("missing")
        assert sum(b.count for b in feature.bins) == table.fit_rows  # every fitting row in one bin
        assert all(b.bads <= b.count for b in feature.bins)
    selected = {f.name for f in table.features}
    left_out = {name for name, _ in table.excluded}
    assert set(credit.spec.names) - selected <= left_out and not left_out & selected
    assert {column for column, _ in credit.spec.dropped} <= left_out
    assert all(why for _, why in table.excluded)
    assert any("spread evenly" in note for note in table.notes)


def test_each_bin_gives_the_points_the_model_gives(credit: CreditModel, table: ScorecardTable) -> None:
    """Score one probe value inside every bin: the model's points equal the table's."""
    scorecard: ScorecardModel = credit.base
    columns = {name: j for j, name in enumerate(credit.spec.names)}
    for k, feature in enumerate(table.features):
        probes = np.full((len(feature.bins), len(credit.spec.names)), np.nan)
        for i, b in enumerate(feature.bins):
            if b.label.startswith("missing"):
                continue  # NaN
            probes[i, columns[feature.name]] = _inside(credit, feature.name, b)
        np.testing.assert_allclose(scorecard.points(probes)[:, k], [b.points for b in feature.bins], atol=1e-9)


def _inside(credit: CreditModel, name: str, b: ScorecardBin) -> float:
    """A model-scale value in the bin: a category's code, yes/no as 1/0, or a value in [lower, upper)."""
    definition = next(f for f in credit.spec.features if f.name == name)
    if definition.kind == "categorical":
        return float(definition.categories.index(b.label.split("; ")[0]))
    if definition.kind == "binary":
        return 1.0 if b.label.startswith("yes") else 0.0
    assert b.lower is not None or b.upper is not None
    return b.lower if b.lower is not None else b.upper - 1.0  # type: ignore[operator]


def test_readable_bins(credit: CreditModel, table: ScorecardTable) -> None:
    by_name = {f.name: f for f in table.features}
    channel_names = [name for b in by_name["channel"].bins[:-1] for name in b.label.split("; ")]
    assert sorted(channel_names) == sorted(CHANNELS)  # the names, not codes
    assert by_name["channel"].bins[-1].label == "missing or not seen in training"
    assert all(b.lower is None and b.upper is None for b in by_name["channel"].bins)  # codes are not shown
    months = [b.label for b in by_name["months"].bins[:-1]]
    assert months[0].startswith("≤ ") and months[-1].startswith("≥ ")
    assert all("." not in label and "inf" not in label for label in months)  # whole months, inclusive
    debt = [b.label for b in by_name["debt_ratio"].bins[:-1]]
    assert debt[0].startswith("< ") and debt[-1].startswith("≥ ") and all("[" not in label for label in debt)
    _points_fall_as_bad_rate_rises(credit.base)


def test_number_and_range_labels() -> None:
    assert _number(3913.5, 0) == "3,914" and _number(2.5, 0) == "3"  # half up, not half to even
    assert _number(1234567.0, 0) == "1,234,567" and _number(0.08340, 4) == "0.0834" and _number(-0.0, 2) == "0"
    assert _integer_label(-math.inf, 11.5) == "≤ 11" and _integer_label(43.5, math.inf) == "≥ 44"
    assert _integer_label(11.5, 15.5) == "12–15" and _integer_label(0.5, 1.5) == "1"
    assert _integer_label(2999.5, 5000.5) == "3,000–5,000" and _integer_label(-3.5, 0.5) == "-3 – 0"
    numeric = FeatureDef("income", "numeric")
    assert _interval_label(numeric, 3000.0, 5000.0, False, 0) == "3,000–5,000"
    assert _interval_label(numeric, -math.inf, 3000.0, False, 0) == "< 3,000"
    assert _interval_label(numeric, 5000.0, math.inf, False, 0) == "≥ 5,000"
    yes_no = FeatureDef("owns_home", "binary")
    assert _interval_label(yes_no, -math.inf, 0.5, True, 0) == "no"
    assert _interval_label(yes_no, 0.5, math.inf, True, 0) == "yes"
    category = FeatureDef("purpose", "categorical", ("car", "tv", "__other__"))
    assert _interval_label(category, 0.5, math.inf, True, 0) == "tv; other"


def test_renderers(table: ScorecardTable) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == sum(len(f.bins) for f in table.features)
    assert any(r["bin"].startswith("'=branch") for r in rows)  # a spreadsheet would run "=branch"
    assert {r["feature"] for r in rows} == {f.name for f in table.features}
    document = json.loads(to_json(table))
    assert document["pdo"] == 20.0 and len(document["features"]) == len(table.features)
    assert document["features"][0]["bins"][0]["points"] == pytest.approx(table.features[0].bins[0].points)
    page = to_html(table)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "&lt;b&gt;web&lt;/b&gt;" in page
    assert "<b>web</b>" not in page and "src=" not in page and "PDO" in page


def test_gbm_is_not_a_scorecard(gbm: CreditModel) -> None:
    with pytest.raises(DataError) as raised:
        scorecard_table(gbm)
    assert raised.value.column == "model" and "not a scorecard" in raised.value.message


def test_scorecards_pickled_before_the_sign_check_still_load() -> None:
    X, y = islr_default(2000)
    model = ScorecardModel(feature_names=["balance", "student"], sign_check=False).fit(X, y)
    state = pickle.loads(pickle.dumps(model)).__getstate__()
    for key in ("woe_columns_", "sign_dropped_", "notes_", "integer_valued_", "sign_check"):
        del state[key]  # what an artifact written before this change holds
    old = ScorecardModel.__new__(ScorecardModel)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X[:50]), model.predict_proba(X[:50]))
    assert old.selected_features() == model.selected_features() and old.notes_ == [] and old.sign_check is False
    assert not old.integer_valued_.any()  # unknown: the points table shows decimal bounds


def test_training_exclusions_are_listed(credit: CreditModel) -> None:
    audited = dataclasses.replace(credit, audit={"excluded": [
        {"column": "gender", "category": "protected", "reason": "protected attribute (sex), detected by name"}]})
    assert ("gender", "protected: protected attribute (sex), detected by name") in scorecard_table(audited).excluded
    assert "gender" not in {name for name, _ in scorecard_table(dataclasses.replace(credit, audit={})).excluded}
