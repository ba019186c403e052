from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from lendstack.scoring import DataError, FeaturePipeline, FeatureSpec, LeakError, encode_target, read_table
from lendstack.scoring.features import check_leaks, infer_roles


def _fit(frame: pl.DataFrame) -> FeaturePipeline:
    y = encode_target(frame["target"], "bad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FeaturePipeline().fit(frame.drop("target"), y)


def test_roles_inferred(frame: pl.DataFrame) -> None:
    kinds, dropped = infer_roles(frame.drop("target").with_columns(pl.lit(3).alias("k"), pl.lit("2024-01-02")
                                                                   .alias("day")))
    assert kinds == {"income": "numeric", "debt_ratio": "numeric", "owns_home": "binary",
                     "segment": "categorical", "noise": "numeric"}
    assert [name for name, _ in dropped] == ["k", "day"]


def test_online_row_equals_batch(frame: pl.DataFrame) -> None:
    pipe = _fit(frame)
    batch = pipe.transform(frame)
    rows = frame.head(300).to_dicts()
    for index, row in enumerate(rows):
        np.testing.assert_array_equal(pipe.transform_row(row), batch[index])
    unseen = pipe.transform_row({"segment": "space tourism", "owns_home": "YES", "income": "NA"})
    assert math.isnan(unseen[pipe.spec_.names.index("segment")])
    assert unseen[pipe.spec_.names.index("owns_home")] == 1.0


def test_pandas_and_polars_agree(frame: pl.DataFrame) -> None:
    pipe = _fit(frame)
    np.testing.assert_array_equal(pipe.transform(frame.to_pandas()), pipe.transform(frame))
    assert isinstance(frame.to_pandas(), pd.DataFrame)


def test_spec_round_trips(frame: pl.DataFrame) -> None:
    spec = _fit(frame).spec_
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    segment = next(f for f in spec.features if f.name == "segment")
    assert segment.categories[-1] == "ride-hailing"  # riskiest level gets the highest code


def test_bad_numeric_value_names_column(frame: pl.DataFrame) -> None:
    pipe = _fit(frame)
    with pytest.raises(DataError, match="income"):
        pipe.transform_row({"income": "lots"})
    with pytest.raises(DataError, match="income"):
        pipe.transform(frame.with_columns(pl.col("income").cast(pl.Utf8).fill_null("lots")))


@pytest.mark.parametrize(
    ("values", "bad", "message"),
    [
        (["a", "b", "c"] * 40, None, "not binary"),
        (["x"] * 100, None, "only one class"),
        ([1] * 20 + [0] * 100, None, "only 20 bads"),
        (["p", "q"] * 50, None, "give --bad-value"),
        (["p", "q"] * 50, "z", "not a value"),
    ],
)
def test_bad_targets_name_the_column(values: list[object], bad: str | None, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        encode_target(pl.Series("outcome", values), bad)
    assert info.value.column == "outcome"


def test_constant_and_missing_columns_warn_by_name(frame: pl.DataFrame) -> None:
    data = frame.with_columns(pl.lit(1).alias("flat"), pl.lit(None, dtype=pl.Float64).alias("empty"))
    y = encode_target(data["target"], "bad")
    with pytest.warns(UserWarning) as caught:
        pipe = FeaturePipeline().fit(data.drop("target"), y)
    text = " ".join(str(w.message) for w in caught)
    assert "flat" in text and "empty" in text
    assert "flat" not in pipe.spec_.names


def test_leak_is_named(frame: pl.DataFrame) -> None:
    y = encode_target(frame["target"], "bad")
    data = frame.with_columns(pl.Series("outcome_code", y * 2.0 + 1))
    pipe = _fit(data)
    with pytest.raises(LeakError, match="outcome_code"):
        check_leaks(pipe.transform(data), y, pipe.spec_.names)


def test_unparseable_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot parse"):
        read_table(path)
