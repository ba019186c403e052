"""Protected-attribute detection (names and values, English and Chinese) and the held-out fairness and
proxy audit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lendstack.scoring import DataError
from lendstack.scoring.fairness_audit import (
    FOUR_FIFTHS,
    SMALL_GROUP_ROWS,
    cramers_v,
    fairness_by_group,
    group_labels,
    proxy_associations,
)
from lendstack.scoring.protected import attribute_by_name, attribute_by_values, detect_protected


@pytest.mark.parametrize(
    ("name", "attribute"),
    [
        ("SEX", "sex"), ("Gender", "sex"), ("applicant-gender", "sex"),
        ("personal_status_and_sex", "sex"), ("性别", "sex"), ("申请人性别", "sex"),
        ("race", "race"), ("afam", "race"), ("is_black", "race"), ("种族", "race"),
        ("Ethnicity", "ethnicity"), ("hispanic", "ethnicity"), ("民族", "ethnicity"),
        ("religion", "religion"), ("宗教信仰", "religion"),
        ("nationality", "nationality"), ("citizenship", "nationality"), ("foreign_worker", "nationality"),
        ("ForeignWorker", "nationality"), ("国籍", "nationality"),
        ("MARRIAGE", "marital_status"), ("maritalStatus", "marital_status"), ("marital status", "marital_status"),
        ("married", "marital_status"), ("婚姻状况", "marital_status"), ("婚否", "marital_status"),
        ("AGE", "age"), ("age_in_years", "age"), ("applicant_age", "age"), ("年龄", "age"),
    ],
)
def test_attribute_by_name(name: str, attribute: str) -> None:
    assert attribute_by_name(name) == attribute


@pytest.mark.parametrize("name", ["income", "account_age", "mortgage", "status", "purpose", "LIMIT_BAL", "PAY_0",
                                  "telephone", "housing", "贷款金额", "loan_age_months", "essex_branch"])
def test_attribute_by_name_leaves_other_columns(name: str) -> None:
    assert attribute_by_name(name) is None


@pytest.mark.parametrize(
    ("levels", "attribute"),
    [
        (["male", "female"], "sex"), (["M", "F"], "sex"), (["男", "女"], "sex"),
        (["male : single", "female : divorced/separated/married", "male : married/widowed"], "sex"),
        (["married", "single", "divorced", "widowed"], "marital_status"), (["已婚", "未婚", "离异"], "marital_status"),
        (["white", "black", "asian", "other"], "race"), (["汉族", "回族", "壮族"], "ethnicity"),
        (["christian", "muslim", "buddhist", "hindu"], "religion"),
    ],
)
def test_attribute_by_values(levels: list[str], attribute: str) -> None:
    series = pl.Series("column_x", (levels * 20)[:60])
    assert attribute_by_values(series) == attribute


@pytest.mark.parametrize(
    "series",
    [
        pl.Series("c", ["yes", "no"] * 30), pl.Series("c", ["retail", "farming", "restaurant"] * 20),
        pl.Series("c", [1, 2] * 30), pl.Series("c", ["s", "m", "l", "xl"] * 15),  # sizes: one "m" is not sex
        pl.Series("c", ["male"] * 5 + ["retail"] * 55),  # one sex word in a mostly other column
    ],
)
def test_attribute_by_values_leaves_other_columns(series: pl.Series) -> None:
    assert attribute_by_values(series) is None


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"income": [1.0, 2.0] * 30, "SEX": [1, 2] * 30, "AGE": [30, 40] * 30,
                         "who": ["male", "female"] * 30, "zip3": ["100", "200"] * 30})


def test_detect_protected_default_age_kept_and_options() -> None:
    found = {item.column: item for item in detect_protected(_frame())}
    assert set(found) == {"SEX", "AGE", "who"}
    assert (found["SEX"].detected_by, found["SEX"].allowed) == ("name", False)
    assert (found["who"].attribute, found["who"].detected_by, found["who"].allowed) == ("sex", "values", False)
    assert (found["AGE"].attribute, found["AGE"].allowed) == ("age", True)  # kept by default, recorded
    assert "kept" in found["AGE"].warning() and "--protected AGE" in found["AGE"].warning()
    warning = found["SEX"].warning()
    assert warning.startswith("SEX: excluded: protected attribute (sex), detected by name") and "性别" in warning

    found = {item.column: item for item in detect_protected(_frame(), protected=["AGE", "zip3"], allow=["SEX"])}
    assert found["AGE"].allowed is False and found["AGE"].detected_by == "option"
    assert (found["zip3"].attribute, found["zip3"].detected_by, found["zip3"].allowed) == ("other", "option", False)
    assert found["SEX"].allowed is True and "--allow-protected" in found["SEX"].warning()


@pytest.mark.parametrize(("protected", "allow", "field"), [(["nope"], [], "nope"), ([], ["gone"], "gone"),
                                                            (["SEX"], ["SEX"], "SEX")])
def test_detect_protected_bad_options_name_the_column(protected: list[str], allow: list[str], field: str) -> None:
    with pytest.raises(DataError) as caught:
        detect_protected(_frame(), protected=protected, allow=allow)
    assert caught.value.column == field


def test_fairness_flags_the_less_approved_group_and_keeps_small_groups() -> None:
    rng = np.random.default_rng(0)
    labels = ["a"] * 600 + ["b"] * 600 + ["tiny"] * 8
    pd = np.concatenate([rng.uniform(0.0, 0.3, 600), rng.uniform(0.1, 0.6, 600), rng.uniform(0, 0.1, 8)])
    y = (rng.random(len(pd)) < pd).astype(np.int8)
    report = fairness_by_group(labels, y, pd)
    groups = {row["group"]: row for row in report["groups"]}
    assert set(groups) == {"a", "b", "tiny"} and sum(row["rows"] for row in groups.values()) == len(labels)
    assert report["reference_group"] == "a"  # "tiny" is approved more, but is too small to be the yardstick
    assert groups["b"]["adverse_impact_ratio"] < FOUR_FIFTHS and report["flagged_groups"] == ["b"]
    assert groups["a"]["adverse_impact_ratio"] == pytest.approx(1.0)
    assert report["reference_cutoff"]["approval_share"] == pytest.approx(0.70, abs=0.01)
    for row in groups.values():
        low, high = row["approval_rate_ci95"]
        assert low <= row["approval_rate"] <= high
        assert row["calibration_gap"] == pytest.approx(row["mean_pd"] - row["bad_rate"])
    assert groups["a"]["auc"] is not None and groups["tiny"]["auc"] is None
    assert report["small_groups"] == ["tiny"] and any("small group" in note for note in groups["tiny"]["notes"])
    assert groups["tiny"]["rows"] < SMALL_GROUP_ROWS


def test_proxy_analysis_flags_a_near_copy_only() -> None:
    rng = np.random.default_rng(1)
    attribute = rng.random(2000) < 0.3
    near_copy = np.where(rng.random(2000) < 0.05, ~attribute, attribute).astype(np.float64)
    noise = rng.normal(size=2000)
    labels = ["yes" if value else "no" for value in attribute]
    rows = {row["feature"]: row for row in proxy_associations(np.column_stack([near_copy, noise]),
                                                              ["copy", "noise"], labels)}
    assert rows["copy"]["measure"] == "auc" and rows["copy"]["value"] > 0.9 and rows["copy"]["flagged"]
    assert rows["noise"]["value"] < 0.6 and not rows["noise"]["flagged"]


def test_proxy_analysis_multi_level_uses_cramers_v() -> None:
    rng = np.random.default_rng(2)
    levels = rng.integers(0, 4, 3000)
    related = levels + rng.normal(scale=0.3, size=3000)
    labels = [str(level) for level in levels]
    rows = {row["feature"]: row for row in proxy_associations(
        np.column_stack([related, rng.normal(size=3000)]), ["related", "noise"], labels)}
    assert rows["related"]["measure"] == "cramers_v" and rows["related"]["flagged"]
    assert not rows["noise"]["flagged"] and rows["noise"]["value"] < 0.1
    assert cramers_v(np.ones(50), np.array(["a", "b"] * 25, dtype=object)) == 0.0  # constant: no information


def test_group_labels_band_ages_and_name_missing() -> None:
    ages = pl.Series("AGE", [19, 25, 34, 35, 64, 65, 80, None])
    assert group_labels(ages, "age") == ["<25", "25-34", "25-34", "35-44", "55-64", "65+", "65+", "<missing>"]
    assert group_labels(pl.Series("s", ["m", None, "f"]), "sex") == ["m", "<missing>", "f"]
    many = group_labels(pl.Series("c", [f"level{i % 40}" for i in range(400)]), "other")
    assert len(set(many)) == 20 and "<other>" in many


def test_audit_held_out_bands_numbers_pools_many_levels_and_skips_self_proxy() -> None:
    from lendstack.scoring.fairness_audit import audit_held_out

    rng = np.random.default_rng(3)
    rows = 800
    score = rng.normal(size=rows)
    pd = 1 / (1 + np.exp(-score))
    y = (rng.random(rows) < pd).astype(np.int8)
    protected = {"income_z": ("other", pl.Series("income_z", rng.normal(size=rows))),
                 "region": ("other", pl.Series("region", [f"r{i % 30}" for i in range(rows)])),
                 "AGE": ("age", pl.Series("AGE", rng.integers(20, 70, rows)))}
    matrix = np.column_stack([score, rng.integers(20, 70, rows).astype(np.float64)])
    fairness, proxies = audit_held_out(protected, matrix, ["score", "AGE"], y, pd)
    assert len(fairness["income_z"]["groups"]) == 5  # quintile bands, not one group per value
    assert fairness["region"]["notes"] and len(fairness["region"]["groups"]) == 20
    assert fairness["AGE"]["notes"] == [] and {g["group"] for g in fairness["AGE"]["groups"]} <= {
        "<25", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert [row["feature"] for row in proxies["AGE"]] == ["score"]  # a kept protected column is no proxy of itself
    for report in fairness.values():
        assert sum(group["rows"] for group in report["groups"]) == rows
