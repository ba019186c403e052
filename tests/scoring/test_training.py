"""Training integration: protected attributes excluded and audited, target coding and the leak check
recorded, out-of-time split, monotone constraints, and the audit written into the manifest."""

from __future__ import annotations

import json
import pickle
import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lendstack.scoring import CreditModel, DataError, TrainOptions, read_table, save_artifact, train_credit_model

ROOT = Path(__file__).resolve().parents[2]
GERMAN = ROOT / "tests" / "data" / "german_credit.csv"
TAIWAN = ROOT / ".." / "shared" / "data" / "taiwan_credit_default.csv"
TAIWAN_TARGET = "default.payment.next.month"
SERIAL = {"n_jobs": 1}  # one LightGBM thread per test worker

warnings.filterwarnings("ignore", module="cvxpy")


def _train(frame: pl.DataFrame, target: str, **options: object) -> tuple[CreditModel, list[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # library chatter; the data warnings come back as notes
        return train_credit_model(frame, target, TrainOptions(gbm_params=SERIAL, **options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def german() -> pl.DataFrame:
    return read_table(GERMAN)


@pytest.fixture(scope="module")
def german_gbm(german: pl.DataFrame) -> tuple[CreditModel, list[str]]:
    return _train(german, "creditability", bad_value="bad")


def _excluded(credit: CreditModel) -> dict[str, dict[str, str]]:
    return {item["column"]: item for item in credit.audit["excluded"]}


def test_german_protected_excluded_and_recorded(german_gbm: tuple[CreditModel, list[str]]) -> None:
    credit, notes = german_gbm
    protected = {item["column"]: item for item in credit.audit["protected"]}
    for column, attribute in (("personal_status_and_sex", "sex"), ("foreign_worker", "nationality")):
        assert column not in credit.spec.names
        assert protected[column] == {"column": column, "attribute": attribute, "detected_by": "name", "allowed": False}
        assert _excluded(credit)[column]["category"] == "protected"
        assert any(note.startswith(f"{column}: excluded: protected attribute ({attribute})") for note in notes)
    # Age is recorded but kept (Reg B §1002.6(b)(2)); --protected excludes it.
    assert protected["age_in_years"]["allowed"] is True and "age_in_years" in credit.spec.names
    assert any(note.startswith("age_in_years: age, kept") for note in notes)
    assert credit.metrics["auc"] > 0.7


def test_german_audit_target_leaks_split_data_fairness(german_gbm: tuple[CreditModel, list[str]],
                                                       german: pl.DataFrame) -> None:
    credit, _ = german_gbm
    audit = credit.audit
    assert credit.bad_value == "bad"
    assert audit["target"] == {"column": "creditability", "bad_value": "bad", "how": "option", "bad_rate": 0.3,
                               "rows": 1000, "bads": 300}
    leak = audit["leak_check"]
    assert leak["rows"] == 1000 and leak["enforced"] is True and leak["threshold"] == 0.99
    assert set(leak["aucs"]) == set(credit.spec.names) and all(0.5 <= v <= 1.0 for v in leak["aucs"].values())
    assert audit["split"] == {"kind": "random", "test_fraction": 0.2, "seed": 0, "train_rows": 800, "test_rows": 200}
    assert audit["data"]["rows"] == 1000 and audit["data"]["columns"] == german.width
    assert audit["data"]["period"] is None and audit["data"]["fingerprint"] == credit.data_fingerprint
    for column in ("personal_status_and_sex", "foreign_worker", "age_in_years"):
        fairness = audit["fairness"][column]
        assert sum(group["rows"] for group in fairness["groups"]) == 200  # every held-out row, no group dropped
        assert fairness["reference_cutoff"]["approval_share"] == pytest.approx(0.7, abs=0.02)
        proxies = audit["proxies"][column]
        assert {row["feature"] for row in proxies} == set(credit.spec.names) - {column}
    groups = {g["group"]: g for g in audit["fairness"]["foreign_worker"]["groups"]}
    assert groups["no"]["rows"] < 30 and any("small group" in note for note in groups["no"]["notes"])


def test_german_allow_protected_keeps_and_records(german: pl.DataFrame) -> None:
    credit, notes = _train(german, "creditability", kind="scorecard", bad_value="bad",
                           allow_protected=("foreign_worker",), protected=("age_in_years",))
    protected = {item["column"]: item for item in credit.audit["protected"]}
    assert protected["foreign_worker"]["allowed"] is True and "foreign_worker" not in _excluded(credit)
    assert any(note.startswith("foreign_worker: kept as a feature by --allow-protected") for note in notes)
    assert protected["age_in_years"] == {"column": "age_in_years", "attribute": "age", "detected_by": "option",
                                         "allowed": False}
    assert "age_in_years" not in credit.spec.names and "personal_status_and_sex" not in credit.spec.names


def test_manifest_carries_the_audit_and_old_artifacts_load(german_gbm: tuple[CreditModel, list[str]],
                                                           tmp_path: Path) -> None:
    credit, _ = german_gbm
    manifest = save_artifact(credit, tmp_path / "m")
    written = json.loads((tmp_path / "m" / "manifest.json").read_text(encoding="utf-8"))
    assert written["audit"] == json.loads(json.dumps(credit.audit)) and manifest["audit"] is credit.audit
    assert written["audit"]["target"]["bad_value"] == "bad" and written["bad_value"] == "bad"
    # Strict JSON (no numpy scalars smuggled through `default=str`): every number is a JSON number.
    assert isinstance(written["audit"]["fairness"]["foreign_worker"]["groups"][0]["approval_rate"], float)
    state = dict(credit.__getstate__())
    state.pop("audit")  # an artifact pickled before the audit existed
    old = CreditModel.__new__(CreditModel)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.audit == {}


def test_taiwan_sex_and_marriage_excluded_id_dropped_fairness_by_sex() -> None:
    if not TAIWAN.is_file():
        pytest.skip(f"Taiwan credit data not found at {TAIWAN} (CI copies ../shared/data beside the repo)")
    frame = read_table(TAIWAN).sample(6000, seed=0)
    credit, _ = _train(frame, TAIWAN_TARGET)
    excluded = _excluded(credit)
    assert excluded["SEX"]["category"] == "protected" and excluded["MARRIAGE"]["category"] == "protected"
    assert excluded["ID"]["category"] == "identifier"
    assert not {"SEX", "MARRIAGE", "ID"} & set(credit.spec.names) and "AGE" in credit.spec.names
    assert {p["column"]: p["detected_by"] for p in credit.audit["protected"]} == {
        "SEX": "name", "MARRIAGE": "name", "AGE": "name"}
    assert credit.bad_value == "1" and credit.audit["target"]["how"] == "0/1"
    sex = credit.audit["fairness"]["SEX"]
    assert {g["group"] for g in sex["groups"]} == {"1", "2"} and sex["rows"] == 1200
    for group in sex["groups"]:
        assert group["auc"] is not None and group["auc"] > 0.65
        assert abs(group["calibration_gap"]) < 0.05
    assert credit.audit["proxies"]["MARRIAGE"][0]["measure"] == "cramers_v"  # four levels (0-3)
    assert credit.audit["proxies"]["SEX"][0]["measure"] == "auc"
    assert credit.metrics["auc"] > 0.74


def _hmda_like(rows: int = 2400, seed: int = 3) -> pl.DataFrame:
    """An HMDA-like frame: `afam` (race, yes/no) drives the outcome, and `tract_index` is a near copy
    of it (a 0/1 flag that differs on 5 % of rows) — the textbook proxy."""
    rng = np.random.default_rng(seed)
    afam = rng.random(rows) < 0.25
    tract = np.where(rng.random(rows) < 0.05, ~afam, afam).astype(int)
    dir_ratio = rng.uniform(0.1, 0.6, rows)
    z = -3.0 + 5.0 * dir_ratio + 0.8 * afam
    deny = rng.random(rows) < 1 / (1 + np.exp(-z))
    return pl.DataFrame({"dir": dir_ratio, "lvr": rng.uniform(0.3, 1.0, rows), "tract_index": tract,
                         "afam": np.where(afam, "yes", "no"), "deny": np.where(deny, "yes", "no")})


def test_hmda_like_afam_excluded_and_its_near_copy_flagged_as_proxy() -> None:
    credit, notes = _train(_hmda_like(), "deny", bad_value="yes")
    assert "afam" not in credit.spec.names and _excluded(credit)["afam"]["category"] == "protected"
    rows = {row["feature"]: row for row in credit.audit["proxies"]["afam"]}
    assert rows["tract_index"]["measure"] == "auc" and rows["tract_index"]["value"] > 0.85
    assert rows["tract_index"]["flagged"] is True
    assert rows["dir"]["flagged"] is False and rows["lvr"]["flagged"] is False
    assert any(note.startswith("tract_index: possible proxy for afam") for note in notes)
    fairness = credit.audit["fairness"]["afam"]
    assert fairness["reference_group"] == "no" and {g["group"] for g in fairness["groups"]} == {"no", "yes"}


def _dated(rows: int = 2000, seed: int = 4, layout: str = "%Y-%m-%d") -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, 730, rows))  # 2019-01-01 … 2020-12-30, in file order
    x = rng.normal(size=rows)
    bad = rng.random(rows) < 1 / (1 + np.exp(-(-1.5 + 1.5 * x)))
    applied = [(date(2019, 1, 1) + timedelta(days=int(d))).strftime(layout) for d in days]
    return pl.DataFrame({"applied_on": applied, "x": x, "noise": rng.normal(size=rows),
                         "bad": bad.astype(int)})


@pytest.mark.parametrize("layout", ["%Y-%m-%d", "%m/%d/%Y", "%Y年%m月%d日"])
def test_out_of_time_split_trains_before_and_holds_out_after(layout: str) -> None:
    frame = _dated(layout=layout)
    credit, _ = _train(frame, "bad", kind="scorecard", time_column="applied_on", oot_from="2020-07-01")
    split = credit.audit["split"]
    late = sum(1 for text in frame["applied_on"] if _read(text, layout) >= date(2020, 7, 1))
    assert split["kind"] == "out_of_time" and split["time_column"] == "applied_on"
    assert split["oot_from"] == "2020-07-01" and split["test_rows"] == late and split["train_rows"] == 2000 - late
    assert split["train_period"][1] < "2020-07-01" <= split["test_period"][0]
    assert credit.audit["data"]["period"] == [split["train_period"][0], split["test_period"][1]]
    assert "applied_on" not in credit.spec.names and _excluded(credit)["applied_on"]["category"] == "date"
    assert credit.metrics["rows"] == late and credit.metrics["auc"] > 0.7


def _read(text: str, layout: str) -> date:
    from datetime import datetime

    return datetime.strptime(text, layout).date()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"time_column": "applied_on", "oot_from": "2030-01-01"}, "oot_from"),  # nothing on or after it
        ({"time_column": "applied_on", "oot_from": "2019-01-02"}, "oot_from"),  # almost nothing before it
        ({"time_column": "applied_on", "oot_from": "July 2020"}, "oot_from"),
        ({"time_column": "applied_on"}, "oot_from"),
        ({"oot_from": "2020-01-01"}, "time_column"),
        ({"time_column": "when", "oot_from": "2020-01-01"}, "when"),
        ({"time_column": "x", "oot_from": "2020-01-01"}, "x"),  # numbers, not dates
        ({"monotone": {"nope": 1}}, "monotone"),
        ({"monotone": {"x": 2}}, "monotone"),
        ({"monotone": {"applied_on": 1}, "time_column": "applied_on", "oot_from": "2020-01-01"}, "monotone"),
        ({"protected": ("nope",)}, "nope"),
        ({"test_fraction": 1.0}, "test_fraction"),
    ],
)
def test_bad_split_and_constraint_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(DataError) as caught:
        _train(_dated(), "bad", kind="scorecard", **options)
    assert caught.value.column == field, caught.value.message


def test_monotone_on_an_excluded_protected_column_is_refused(german: pl.DataFrame) -> None:
    with pytest.raises(DataError) as caught:
        _train(german, "creditability", bad_value="bad", monotone={"foreign_worker": 1})
    assert caught.value.column == "monotone" and "protected" in caught.value.message


def test_monotone_recorded_and_enforced() -> None:
    frame = _dated()
    credit, _ = _train(frame, "bad", monotone={"x": 1, "noise": -1})
    assert credit.audit["monotone"] == {"x": 1, "noise": -1}
    grid = pl.DataFrame({"applied_on": ["2020-01-01"] * 41, "x": np.linspace(-3, 3, 41), "noise": [0.0] * 41})
    pd = credit.predict_pd(grid)
    assert np.all(np.diff(pd) >= -1e-12) and pd[-1] > pd[0]  # PD never falls as x rises
