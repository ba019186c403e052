"""Data hygiene (issue 13 §2, §4): target coding, the coding-invariant leak guard, missing-value
tokens, dates and identifiers."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

from lendstack.scoring import DataError, FeaturePipeline, FeatureSpec, LeakError, encode_target, read_table
from lendstack.scoring.features import (
    DEFAULT_MISSING_TOKENS,
    LEGACY_MISSING_TOKENS,
    DataWarning,
    check_leaks,
    classify_columns,
    leak_report,
    single_feature_auc,
    target_coding,
)

ROOT = Path(__file__).resolve().parents[2]
GERMAN = ROOT / "tests" / "data" / "german_credit.csv"
TAIWAN = ROOT / ".." / "shared" / "data" / "taiwan_credit_default.csv"


def _fit(frame: pl.DataFrame, y: Any, **params: Any) -> FeaturePipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return FeaturePipeline(**params).fit(frame, y)


def _dropped(frame: pl.DataFrame) -> dict[str, dict[str, str]]:
    _, dropped = classify_columns(frame)
    return {item["column"]: item for item in dropped}


def _balanced(values: tuple[Any, Any], rows: int = 200) -> list[Any]:
    return [values[0]] * (rows // 2) + [values[1]] * (rows - rows // 2)


# --------------------------------------------------------------------------- target coding


@pytest.mark.parametrize(
    ("column", "values", "bad", "how"),
    [
        ("target", (0, 1), "1", "0/1"),
        ("target", (0.0, 1.0), "1.0", "0/1"),
        ("target", ("0", "1"), "1", "0/1"),
        ("creditability", ("good", "bad"), "bad", "value name"),
        ("loan_status", ("Fully Paid", "Charged Off"), "Charged Off", "value name"),
        ("status", ("current", "charged-off"), "charged-off", "value name"),
        ("结果", ("正常", "违约"), "违约", "value name"),
        ("结果", ("好", "坏"), "坏", "value name"),
        ("default", ("no", "yes"), "yes", "column name"),
        ("default.payment.next.month", (2, 1), "1", "column name"),
        ("is_delinquent", ("N", "Y"), "Y", "column name"),
        ("charged_off", ("false", "true"), "true", "column name"),
        ("isDefault", ("f", "t"), "t", "column name"),
        ("dpd90_flag", ("no", "yes"), "yes", "column name"),
        ("是否违约", ("否", "是"), "是", "column name"),
        ("逾期标记", ("no", "yes"), "yes", "column name"),
    ],
)
def test_unambiguous_targets_are_coded_without_a_bad_value(
    column: str, values: tuple[Any, Any], bad: str, how: str
) -> None:
    series = pl.Series(column, [values[0]] * 75 + [values[1]] * 125)
    y, coding = target_coding(series)
    assert (coding.column, coding.bad_value, coding.how) == (column, bad, how)
    assert coding.rows == 200 and coding.bads == 125 and coding.bad_rate == pytest.approx(0.625)
    assert int(y.sum()) == 125 and y.dtype == np.int8
    np.testing.assert_array_equal(encode_target(series), y)


def test_boolean_dtype_counts_as_true_false_text() -> None:
    """Decision: a Boolean target is a yes/no flag whose meaning is in its name, like true/false text."""
    flags = [False] * 120 + [True] * 80
    y, coding = target_coding(pl.Series("defaulted", flags))
    assert (coding.bad_value, coding.how, int(y.sum())) == ("true", "column name", 80)
    with pytest.raises(DataError, match="give --bad-value"):
        target_coding(pl.Series("approved", flags))
    for given, bads in (("false", 120), ("no", 120), ("1", 80), ("yes", 80)):
        y, coding = target_coding(pl.Series("approved", flags), given)
        assert coding.how == "option" and int(y.sum()) == bads


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("card", ("no", "yes")),  # AER: yes = the card application was ACCEPTED
        ("outcome", (1, 2)),  # German's original coding is 1 = good, 2 = bad
        ("flag", ("N", "Y")),
        ("grade", ("A", "B")),
        ("no_default", ("no", "yes")),  # a negated name names nothing
        ("non_default", ("false", "true")),
        ("good_bad", ("no", "yes")),
        ("未违约", ("否", "是")),
        ("status", ("default", "delinquent")),  # both values name a bad outcome
    ],
)
def test_ambiguous_targets_ask_for_the_bad_value(column: str, values: tuple[Any, Any]) -> None:
    with pytest.raises(DataError, match="give --bad-value") as info:
        target_coding(pl.Series(column, _balanced(values)))
    assert info.value.column == column
    assert all(repr(str(value).lower()) in info.value.message for value in values)  # the values are listed


@pytest.mark.parametrize(("values", "given", "bad"), [
    (("no", "yes"), "no", "no"), (("no", "yes"), "YES", "yes"), ((1, 2), "2", "2"), ((1, 2), "2.0", "2"),
])
def test_the_bad_value_option_decides(values: tuple[Any, Any], given: str, bad: str) -> None:
    y, coding = target_coding(pl.Series("card", [values[0]] * 70 + [values[1]] * 130), given)
    assert (coding.bad_value, coding.how) == (bad, "option")
    assert int(y.sum()) == (70 if bad == str(values[0]) else 130)


def test_exactly_min_bads_is_enough_and_one_fewer_is_not() -> None:
    _, coding = target_coding(pl.Series("default", [0] * 100 + [1] * 30))
    assert coding.bads == 30
    with pytest.raises(DataError, match="only 29 bads"):
        target_coding(pl.Series("default", [0] * 100 + [1] * 29))
    with pytest.raises(DataError, match="only 29 goods"):
        target_coding(pl.Series("default", [0] * 29 + [1] * 100))


def test_german_and_simulator_targets_still_work_without_a_bad_value() -> None:
    frame = read_table(GERMAN)
    y, coding = target_coding(frame["creditability"])
    assert (coding.bad_value, coding.how, coding.bads, coding.rows) == ("bad", "value name", 300, 1000)
    np.testing.assert_array_equal(y, encode_target(frame["creditability"], "bad"))
    sim = pl.Series("default_12m", [0] * 900 + [1] * 100)  # the simulator's int 0/1 target
    assert target_coding(sim)[1].how == "0/1"


# --------------------------------------------------------------------------- the leak guard


def _aer_like(seed: int, rows: int = 1319) -> pl.DataFrame:
    """Like AER CreditCard: `share` (expenditure / income) is tiny for every rejected application, so
    it separates `card` almost perfectly (single-feature AUC ≈ 0.99, around the refusal threshold)."""
    rng = np.random.default_rng(seed)
    accepted = rng.random(rows) < 0.775
    share = np.where(accepted, rng.lognormal(-4.2, 1.0, rows), rng.uniform(0.0001, 0.0025, rows)).round(6)
    return pl.DataFrame({
        "share": share,
        "income": rng.lognormal(1.2, 0.5, rows).round(2),
        "owner": rng.choice(["yes", "no"], rows),
        "majorcards": rng.choice(["one", "none", "several"], rows),
        "card": np.where(accepted, "yes", "no"),
    })


def test_share_gets_the_same_verdict_with_either_coding_and_any_seed() -> None:
    verdicts = set()
    for seed in range(6):
        frame = _aer_like(seed)
        reports = []
        for bad in ("yes", "no"):
            y = encode_target(frame["card"], bad)
            pipe = _fit(frame.drop("card"), y)
            reports.append(leak_report(pipe.transform(frame.drop("card")), y, pipe.spec_.names))
        assert reports[0].aucs == reports[1].aucs  # bit for bit, every feature (categoricals included)
        auc = reports[0].aucs["share"]
        assert 0.985 < auc < 0.995
        verdicts.add(reports[0].refused == ["share"])
        assert reports[0].refused == reports[1].refused and reports[0].warned == reports[1].warned
    assert verdicts == {True, False}  # the seeds straddle the threshold, so both verdicts were exercised


def test_leak_verdict_flips_at_the_auc_for_both_codings() -> None:
    frame = _aer_like(0)
    auc = None
    for bad in ("yes", "no"):
        y = encode_target(frame["card"], bad)
        pipe = _fit(frame.drop("card"), y)
        matrix = pipe.transform(frame.drop("card"))
        auc = auc or single_feature_auc(matrix[:, pipe.spec_.names.index("share")], y)
        with pytest.raises(LeakError, match="share") as info:
            check_leaks(matrix, y, pipe.spec_.names, threshold=auc - 1e-12, warn_from=0.9)
        assert info.value.column == "share"
        with pytest.warns(DataWarning, match="share"):
            report = check_leaks(matrix, y, pipe.spec_.names, threshold=auc, warn_from=0.9)
        assert report.warned == ["share"] and report.refused == []


def test_categorical_ties_do_not_make_the_auc_depend_on_the_coding() -> None:
    # a: 2 bads in 10, b: 9 in 30, c: 39 in 60 → 50 % overall; smoothed (10 rows toward 0.5) a and b
    # both 0.35 (and 0.65 with the other coding) though their raw rates differ (0.2 vs 0.3).
    level = ["a"] * 10 + ["b"] * 30 + ["c"] * 60
    bad = [1] * 2 + [0] * 8 + [1] * 9 + [0] * 21 + [1] * 39 + [0] * 21
    frame = pl.DataFrame({"level": level, "noise": np.random.default_rng(0).normal(size=100)})
    y = np.array(bad, dtype=np.int8)
    flipped = (1 - y).astype(np.int8)
    assert (2 + 10 * 0.5) / (10 + 10) == (9 + 10 * 0.5) / (30 + 10)  # the tie is real
    aucs = []
    for target in (y, flipped):
        pipe = _fit(frame, target)
        aucs.append(single_feature_auc(pipe.transform(frame)[:, pipe.spec_.names.index("level")], target))
    assert aucs[0] == aucs[1]
    # A name-only tie-break (a before b under both codings) would have given another AUC:
    codes = {"c": 0.0, "a": 1.0, "b": 2.0}
    assert single_feature_auc(np.array([codes[v] for v in level]), flipped) != pytest.approx(aucs[0])


def test_warn_band_is_reported_and_kept_and_the_report_is_json_ready() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.3).astype(np.int8)
    strong = y * 3.5 + rng.normal(size=2000)  # AUC ≈ 0.99 → shifted to the band below
    medium = y * 2.6 + rng.normal(size=2000)
    weak = y * 0.5 + rng.normal(size=2000)
    matrix = np.column_stack([medium, weak])
    with pytest.warns(DataWarning, match="medium"):
        report = check_leaks(matrix, y, ["medium", "weak"], threshold=0.99, warn_from=0.95)
    assert 0.95 <= report.aucs["medium"] <= 0.99 and report.aucs["weak"] < 0.95
    assert report.warned == ["medium"] and report.refused == []
    assert set(report.to_dict()) == {"threshold", "warn_from", "aucs", "warned"}
    with pytest.raises(LeakError, match="also above: medium") as info:  # the worst one is named first
        check_leaks(np.column_stack([medium, strong]), y, ["medium", "strong"], threshold=0.9, warn_from=0.8)
    assert info.value.column == "strong"


def test_single_feature_auc_matches_sklearn_with_missing_first_and_last() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(500) < 0.25).astype(np.int8)
    x = y + rng.normal(size=500)
    x[rng.random(500) < 0.1] = np.nan
    x[:50] = np.round(x[:50])  # ties
    expected = max(
        max(auc, 1 - auc) for auc in (roc_auc_score(y, np.where(np.isnan(x), fill, x)) for fill in (-1e9, 1e9))
    )
    assert single_feature_auc(x, y) == pytest.approx(expected, abs=1e-12)
    assert single_feature_auc(x, y) == single_feature_auc(x, (1 - y).astype(np.int8))


# --------------------------------------------------------------------------- missing-value tokens


def test_german_keeps_telephone_and_drops_nothing() -> None:
    frame = read_table(GERMAN)
    y = encode_target(frame["creditability"])
    pipe = _fit(frame.drop("creditability"), y)
    assert pipe.dropped_ == [] and pipe.spec_.dropped == ()
    telephone = next(feature for feature in pipe.spec_.features if feature.name == "telephone")
    assert telephone.kind == "categorical"
    assert set(telephone.categories) == {"none", "yes, registered under the customers name"}


def _token_frame(rows: int = 120) -> tuple[pl.DataFrame, np.ndarray]:
    texts = ["none", "-", "?", "NA", "n/a", "NaN", "null", "", "own", "rent"]
    numbers = ["1.5", "2", "NA", "Null", "nan", "", "3", "4", "5", "6"]
    frame = pl.DataFrame({"answer": [texts[i % 10] for i in range(rows)],
                          "amount": [numbers[i % 10] for i in range(rows)]})
    return frame, (np.arange(rows) % 3 == 0).astype(np.int8)


def test_default_tokens_keep_none_dash_and_question_mark_as_categories() -> None:
    frame, y = _token_frame()
    pipe = _fit(frame, y)
    assert pipe.spec_.missing_tokens == DEFAULT_MISSING_TOKENS
    answer = next(feature for feature in pipe.spec_.features if feature.name == "answer")
    assert set(answer.categories) == {"none", "-", "?", "own", "rent"}
    assert next(feature for feature in pipe.spec_.features if feature.name == "amount").kind == "numeric"
    batch = pipe.transform(frame)
    for index, row in enumerate(frame.head(10).to_dicts()):
        np.testing.assert_array_equal(pipe.transform_row(row), batch[index])
    missing = np.isnan(batch[:10, 0])
    assert missing.tolist() == [False, False, False, True, True, True, True, True, False, False]
    assert np.isnan(pipe.transform_row({"answer": " N/a ", "amount": "NULL"})).all()


def test_numbers_with_a_few_words_are_a_category_with_a_hint() -> None:
    months = [str(i % 40) for i in range(180)] + ["none"] * 20  # months since delinquency; none = never
    frame = pl.DataFrame({"months_since_delinquency": months, "x": np.arange(200) % 7})
    with pytest.warns(DataWarning, match="numbers except 'none' in 20 rows") as caught:
        pipe = FeaturePipeline().fit(frame, np.arange(200) % 2)
    assert "missing tokens" in str(caught[0].message)
    assert pipe.spec_.features[0].kind == "categorical"
    kept = _fit(frame, np.arange(200) % 2, missing_tokens=["none"])
    assert kept.spec_.features[0].kind == "numeric"


def test_custom_tokens_are_frozen_in_the_spec_and_survive_saving() -> None:
    frame, y = _token_frame()
    pipe = _fit(frame, y, missing_tokens=["?", " NONE "])
    assert pipe.spec_.missing_tokens == ("", "?", "none")
    answer = next(feature for feature in pipe.spec_.features if feature.name == "answer")
    assert "none" not in answer.categories and "?" not in answer.categories and "NA" in answer.categories
    assert FeatureSpec.from_dict(pipe.spec_.to_dict()) == pipe.spec_
    loaded = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(loaded.transform(frame), pipe.transform(frame))
    assert np.isnan(loaded.transform_row({"answer": "None", "amount": 1})[0])


def test_an_old_spec_keeps_the_old_tokens() -> None:
    frame, y = _token_frame()
    pipe = _fit(frame, y, missing_tokens=LEGACY_MISSING_TOKENS)
    document = pipe.spec_.to_dict()
    del document["missing_tokens"]  # a spec.json written before the field existed
    assert FeatureSpec.from_dict(document).missing_tokens == LEGACY_MISSING_TOKENS
    state = dict(pipe.spec_.__dict__)
    del state["missing_tokens"]  # a pickled spec from before the field existed
    old = object.__new__(FeatureSpec)
    old.__dict__.update(state)
    old = pickle.loads(pickle.dumps(old))
    assert old.missing_tokens == LEGACY_MISSING_TOKENS
    pipe_state = dict(pipe.__dict__, spec_=old)
    del pipe_state["missing_tokens"], pipe_state["dropped_"]  # an old pickled pipeline
    restored = object.__new__(FeaturePipeline)
    restored.__setstate__(pipe_state)
    assert restored.get_params()["missing_tokens"] is None
    row = {"answer": "none", "amount": "?"}
    assert np.isnan(restored.transform_row(row)).all()
    np.testing.assert_array_equal(restored.transform(pl.DataFrame([row])), restored.transform_row(row)[None, :])


def test_read_table_uses_the_same_tokens(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("amount,answer\n1.5,none\nNA,?\nnan,-\nNull,own\nN/A,NA\n,rent\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["amount"].dtype == pl.Float64 and frame["amount"].null_count() == 5
    assert frame["answer"].to_list() == ["none", "?", "-", "own", None, "rent"]
    custom = read_table(path, missing_tokens=["none", "?"])
    assert custom["answer"].to_list() == [None, None, "-", "own", "NA", "rent"]
    assert custom["amount"].dtype == pl.String  # "NA" is a value now, so amount is text
    with pytest.raises(DataError, match="missing_tokens"):
        read_table(path, missing_tokens="none")
    with pytest.raises(DataError, match="missing_tokens"):
        FeaturePipeline(missing_tokens=["x" * 65]).fit(frame, np.zeros(frame.height))


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("values", "label"),
    [
        (["2024-01-05", "2023-12-31", "2024-02-29"], "YYYY-MM-DD"),
        (["2024/01/05", "2023/12/31", "2024/02/29"], "YYYY/MM/DD"),
        (["01/05/2024", "12/31/2023", "2/29/2024"], "MM/DD/YYYY"),
        (["13/05/2024", "31/12/2023", "29/02/2024"], "DD/MM/YYYY"),
        (["05.01.2024", "31.12.2023", "29.02.2024"], "DD.MM.YYYY"),
        (["2024-01-05 10:11:12", "2023-12-31 23:59:59", "2024-02-29 00:00:00"], "YYYY-MM-DD HH:MM:SS"),
        (["2024-01-05T10:11:12", "2023-12-31T23:59:59Z", "2024-02-29T00:00:00.5+08:00"], "ISO 8601"),
        (["2024年1月5日", "2023年12月31日", "2024年2月29日"], "YYYY年M月D日"),
        (["20240105", "20231231", "20240229"], "YYYYMMDD"),
    ],
)
def test_date_columns_are_dropped_naming_the_format(values: list[str], label: str) -> None:
    frame = pl.DataFrame({"opened": values * 40, "income": np.arange(120.0) % 7})
    dropped = _dropped(frame)
    assert set(dropped) == {"opened"} and dropped["opened"]["category"] == "date"
    assert label in dropped["opened"]["reason"] and "derive an age or a month" in dropped["opened"]["reason"]


def test_a_date_column_with_ten_percent_garbage_is_still_a_date() -> None:
    days = [f"{month:02d}/{day:02d}/2024" for month in range(1, 13) for day in range(1, 16)]  # 180
    values = days[:162] + ["unknown", "soon", "n.a.", "31/31/2024", "x"] * 3 + ["?"] * 3  # 162 of 180 = 90 %
    item = _dropped(pl.DataFrame({"opened": values, "k": np.arange(180) % 5}))["opened"]
    assert item["category"] == "date" and "MM/DD/YYYY, 90% of values" in item["reason"]


def test_typed_dates_and_yyyymmdd_numbers_are_dates_but_numeric_codes_are_not() -> None:
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({
        "applied_on": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 4, 29), eager=True),  # 120 days
        "yyyymmdd": [20240101 + (i % 28) for i in range(120)],
        "code": rng.integers(19_000_101, 21_001_231, 120),  # 8-digit numbers: few are valid dates
        "amount_minor": rng.integers(20_000_000, 20_991_231, 120),
    })
    dropped = _dropped(frame)
    assert dropped["applied_on"]["category"] == "date" and dropped["yyyymmdd"]["category"] == "date"
    assert "code" not in dropped and "amount_minor" not in dropped


# --------------------------------------------------------------------------- identifiers


def test_identifier_like_numbers_are_dropped_and_amounts_kept() -> None:
    rng = np.random.default_rng(4)
    rows = 500
    frame = pl.DataFrame({
        "ref": np.arange(1000, 1000 + rows),  # a running number that starts at 1000
        "countdown": np.arange(rows * 3, 0, -3),  # strictly decreasing, with gaps
        "shuffled": rng.permutation(rows) + 1,  # 1 … rows, shuffled: a sequence out of order
        "customer_id": rng.choice(10**9, rows, replace=False),  # sparse, but named an id
        "amount": rng.lognormal(8, 1, rows).round(2),  # all-distinct float amount
        "amount_minor": rng.choice(10**9, rows, replace=False),  # all-distinct sparse integers
        "term": rng.choice([6, 12, 24], rows),
    })
    dropped = _dropped(frame)
    assert set(dropped) == {"ref", "countdown", "shuffled", "customer_id"}
    assert all(item["category"] == "identifier" for item in dropped.values())
    assert "running number (1000 … 1499, strictly increasing" in dropped["ref"]["reason"]
    assert "strictly decreasing" in dropped["countdown"]["reason"]
    assert "densely covering 1–500" in dropped["shuffled"]["reason"]


def test_identifier_rule_needs_enough_rows() -> None:
    assert "ref" not in _dropped(pl.DataFrame({"ref": np.arange(99), "x": np.arange(99) % 3}))
    assert "ref" in _dropped(pl.DataFrame({"ref": np.arange(100), "x": np.arange(100) % 3}))


def test_dropped_columns_carry_a_category_and_the_old_tuples_stay() -> None:
    rows = 150
    frame = pl.DataFrame({
        "flat": [1] * rows, "empty": pl.Series([None] * rows, dtype=pl.Float64), "row_no": np.arange(rows),
        "when": ["2024-03-01"] * (rows - 1) + ["2024-03-02"], "x": np.arange(rows) % 7,
        "name": [f"applicant {i}" for i in range(rows)],
    })
    pipe = _fit(frame, np.arange(rows) % 2)
    categories = {item["column"]: item["category"] for item in pipe.dropped_}
    assert categories == {"flat": "constant", "empty": "missing", "row_no": "identifier", "when": "date",
                          "name": "identifier"}
    assert [column for column, _ in pipe.spec_.dropped] == ["flat", "empty", "row_no", "when", "name"]
    assert all(isinstance(reason, str) and reason for _, reason in pipe.spec_.dropped)
    with pytest.warns(DataWarning, match="row_no: dropped: identifier-like"):
        FeaturePipeline().fit(frame, np.arange(rows) % 2)


def test_taiwan_drops_exactly_its_id() -> None:
    if not TAIWAN.is_file():
        pytest.skip(f"Taiwan credit-card data not found at {TAIWAN} (CI copies it to ../shared/data)")
    frame = read_table(TAIWAN)
    assert frame.height == 30_000
    y, coding = target_coding(frame["default.payment.next.month"])
    assert coding.how == "0/1"
    pipe = _fit(frame.drop("default.payment.next.month"), y)
    assert [(item["column"], item["category"]) for item in pipe.dropped_] == [("ID", "identifier")]
    assert len(pipe.spec_.names) == frame.width - 2
