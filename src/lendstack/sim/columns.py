"""Turn NumPy arrays into typed Polars columns with explicit nulls (never NaN, never sentinels)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from lendstack.sim.draws import BoolArray, IntArray
from lendstack.sim.tables import FloatArray

Columns = dict[str, pl.Series]


def int_column(name: str, values: npt.NDArray[np.generic], valid: BoolArray | None = None) -> pl.Series:
    array = np.asarray(values).astype(np.int64)
    return _from_arrow(name, pa.array(array, mask=None if valid is None else ~valid))


def money_column(name: str, amounts_cny: FloatArray, valid: BoolArray | None = None) -> pl.Series:
    """CNY amounts (floats, from the model) → int64 fen; money is exact integers once it leaves the model."""
    return int_column(name, np.rint(amounts_cny * 100.0), valid)


def float_column(name: str, values: FloatArray, valid: BoolArray | None = None, decimals: int = 4) -> pl.Series:
    array = np.round(np.asarray(values, dtype=np.float64), decimals)
    invalid = ~np.isfinite(array) if valid is None else ~valid
    assert valid is None or np.all(np.isfinite(array[valid])), f"{name}: NaN or inf among valid values"
    return _from_arrow(name, pa.array(array, mask=invalid if invalid.any() else None))


def label_column(name: str, codes: IntArray, labels: tuple[str, ...], valid: BoolArray | None = None) -> pl.Series:
    series = pl.Series(name, labels, dtype=pl.String).gather(pl.Series(codes, dtype=pl.Int64))
    return series.alias(name) if valid is None else with_nulls(series.alias(name), valid)


def with_nulls(series: pl.Series, valid: BoolArray) -> pl.Series:
    frame = pl.DataFrame({"value": series, "valid": valid})
    return frame.select(pl.when(pl.col("valid")).then(pl.col("value")).alias(series.name)).to_series()


def _from_arrow(name: str, array: pa.Array) -> pl.Series:
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.alias(name)
