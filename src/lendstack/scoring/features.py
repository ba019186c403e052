"""The feature pipeline: any tabular frame → a float64 matrix, the same for one row and a batch.

Column roles are inferred from the training frame and frozen in a `FeatureSpec` (named, versioned,
documented, persisted with the model):

- numeric: ints and floats; missing → NaN.
- binary: booleans and yes/no strings (yes/y/true/t → 1, no/n/false/f → 0); missing → NaN.
- categorical: other strings. Each level becomes a code ordered by its training bad rate (code 0 =
  the safest level), so a single threshold split or a monotone bin over the code is the usual
  "group categories by event rate" of credit scoring. Levels past `max_categories` (by frequency)
  share the `__other__` code; a level never seen in training is missing (NaN).
- dropped, with a warning naming the column: dates, constant or all-missing columns, and
  identifier-like strings (nearly every value unique).

Missing is explicit: NaN in the matrix, which both models treat as its own bin / branch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin  # type: ignore[import-untyped]

from lendstack.scoring.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]
FeatureKind = Literal["numeric", "binary", "categorical"]

SPEC_FORMAT_VERSION = "1"
OTHER = "__other__"
_YES = frozenset({"yes", "y", "true", "t"})
_NO = frozenset({"no", "n", "false", "f"})
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
_IDENTIFIER_UNIQUE_SHARE = 0.5  # a string column with more distinct values than this share is an id
_DATE_PARSE_SHARE = 0.9  # a string column whose values mostly parse as dates is a date
_SMOOTHING_ROWS = 10.0  # category bad rates shrink toward the overall rate (rare levels are noisy)


class DataWarning(UserWarning):
    """A column was dropped or changed; the message names it."""


@dataclass(frozen=True)
class FeatureDef:
    """One model input: its source column, kind, training levels and reason-code texts."""

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] = ()
    median: float = math.nan
    description: str = ""
    reason_en: str = ""
    reason_zh: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """The frozen feature definitions of one model; `version` changes whenever the inputs do."""

    name: str
    version: str
    features: tuple[FeatureDef, ...]
    dropped: tuple[tuple[str, str], ...] = ()
    format_version: str = SPEC_FORMAT_VERSION
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> FeatureSpec:
        features = tuple(
            FeatureDef(**{**item, "categories": tuple(item.get("categories", ()))}) for item in document["features"]
        )
        dropped = tuple((str(column), str(reason)) for column, reason in document.get("dropped", ()))
        return cls(
            name=document["name"],
            version=document["version"],
            features=features,
            dropped=dropped,
            format_version=document.get("format_version", SPEC_FORMAT_VERSION),
            notes=dict(document.get("notes", {})),
        )


# --------------------------------------------------------------------------- reading files


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV or Parquet file; an unreadable file is a DataError naming it."""
    source = Path(path)
    if not source.is_file():
        raise DataError("data", f"no such file: {source}")
    try:
        if source.suffix.lower() in {".parquet", ".pq"}:
            frame = pl.read_parquet(source)
        else:
            frame = pl.read_csv(source, infer_schema_length=None, null_values=["", "NA", "N/A", "null", "NULL"])
    except Exception as exc:  # polars raises several error types for a malformed file
        raise DataError("data", f"cannot parse {source.name}: {exc}") from exc
    if frame.height == 0 or frame.width < 2:
        raise DataError("data", f"{source.name} has no rows or fewer than two columns")
    return frame


def as_polars(frame: Any) -> pl.DataFrame:
    """Accept a polars or pandas frame (or anything polars can build one from)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    return pl.DataFrame(frame)


# --------------------------------------------------------------------------- the target


def encode_target(values: pl.Series, bad_value: str | None = None, *, min_bads: int = 30) -> IntArray:
    """1 = bad, 0 = good. The target must have exactly two classes and at least `min_bads` bads."""
    column = values.name
    if values.null_count() > 0:
        raise DataError(column, f"target has {values.null_count()} missing values; drop those rows first")
    texts = values.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    levels = sorted(texts.unique().to_list())
    if len(levels) == 1:
        raise DataError(column, f"target has only one class ({levels[0]!r}); need goods and bads")
    if len(levels) > 2:
        shown = ", ".join(repr(level) for level in levels[:6])
        raise DataError(column, f"target is not binary: {len(levels)} distinct values ({shown}, ...)")
    bad = _bad_level(column, levels, bad_value)
    y = (texts == bad).to_numpy().astype(np.int8)
    bads = int(y.sum())
    if bads < min_bads:
        raise DataError(column, f"only {bads} bads (target == {bad!r}); need at least {min_bads}")
    if len(y) - bads < min_bads:
        raise DataError(column, f"only {len(y) - bads} goods; need at least {min_bads}")
    return y


def _bad_level(column: str, levels: list[str], bad_value: str | None) -> str:
    if bad_value is not None:
        wanted = str(bad_value).strip().lower()
        if wanted not in levels and _as_number(wanted) is not None:
            wanted = next((level for level in levels if _as_number(level) == _as_number(wanted)), wanted)
        if wanted not in levels:
            raise DataError(column, f"--bad-value {bad_value!r} is not a value of the target ({levels})")
        return wanted
    numbers = [_as_number(level) for level in levels]
    if numbers == [0.0, 1.0]:
        return levels[1]
    if set(levels) <= _YES | _NO:
        return next(level for level in levels if level in _YES)
    if "bad" in levels:
        return "bad"
    raise DataError(column, f"cannot tell which of {levels} is 'bad'; give --bad-value")


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------- role inference


def infer_roles(frame: pl.DataFrame, max_categories: int = 50) -> tuple[dict[str, FeatureKind], list[tuple[str, str]]]:
    """Each column's kind, and the dropped columns with the reason (in frame order)."""
    kinds: dict[str, FeatureKind] = {}
    dropped: list[tuple[str, str]] = []
    for name in frame.columns:
        kind, reason = _role_of(_clean(frame.get_column(name)), frame.height, max_categories)
        if kind is None:
            dropped.append((name, reason))
        else:
            kinds[name] = kind
    return kinds, dropped


def _clean(series: pl.Series) -> pl.Series:
    """Strings stripped, NA tokens as nulls; other types unchanged."""
    if series.dtype not in (pl.Utf8, pl.Categorical):
        return series
    text = series.cast(pl.Utf8).str.strip_chars()
    return text.set(text.str.to_lowercase().is_in(list(_NA_TOKENS)).fill_null(False), None)


def _role_of(series: pl.Series, height: int, max_categories: int) -> tuple[FeatureKind | None, str]:
    present = series.drop_nulls()
    if series.dtype.is_float():
        present = present.filter(~present.is_nan())
    if present.len() == 0:
        return None, "all values missing"
    if present.n_unique() == 1:
        return None, f"constant (every value is {present[0]!r})"
    if series.dtype.is_temporal():
        return None, "a date or time"
    if series.dtype == pl.Boolean:
        return "binary", ""
    if series.dtype.is_numeric():
        return "numeric", ""
    return _string_role(present.cast(pl.Utf8), height, max_categories)


def _string_role(present: pl.Series, height: int, max_categories: int) -> tuple[FeatureKind | None, str]:
    lowered = set(present.str.to_lowercase().unique().to_list())
    if lowered <= _YES | _NO and lowered & _YES and lowered & _NO:
        return "binary", ""
    if present.cast(pl.Float64, strict=False).null_count() == 0:
        return "numeric", ""
    dates = present.str.to_date(strict=False)
    if dates.null_count() <= present.len() * (1 - _DATE_PARSE_SHARE):
        return None, "a date or time"
    distinct = present.n_unique()
    if distinct > max_categories and distinct > _IDENTIFIER_UNIQUE_SHARE * height:
        return None, f"identifier-like ({distinct} distinct values in {height} rows)"
    return "categorical", ""


# --------------------------------------------------------------------------- the transformer


class FeaturePipeline(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Learn a FeatureSpec from a training frame; turn frames or single rows into float64 features.

    `descriptions` and `reasons` map column → text ("reasons" values are (english, chinese)
    templates for an adverse reason code); columns without them get generic texts.
    """

    def __init__(
        self,
        name: str = "features",
        version: str = "1",
        max_categories: int = 50,
        descriptions: dict[str, str] | None = None,
        reasons: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.max_categories = max_categories
        self.descriptions = descriptions
        self.reasons = reasons

    def fit(self, X: Any, y: Any = None) -> FeaturePipeline:
        frame = as_polars(X)
        assert y is not None and len(y) == frame.height, "FeaturePipeline.fit needs the target (bad = 1)"
        kinds, dropped = infer_roles(frame, self.max_categories)
        for column, reason in dropped:
            warnings.warn(f"{column}: dropped: {reason}", DataWarning, stacklevel=2)
        if not kinds:
            raise DataError("data", "no usable feature columns left after dropping " + ", ".join(c for c, _ in dropped))
        target = np.asarray(y, dtype=np.float64)
        features = tuple(self._define(name, kind, frame.get_column(name), target) for name, kind in kinds.items())
        self.spec_ = FeatureSpec(self.name, self.version, features, tuple(dropped))
        self.n_features_in_ = frame.width
        self.feature_names_out_ = np.array(self.spec_.names, dtype=object)
        return self

    def _define(self, name: str, kind: FeatureKind, series: pl.Series, target: npt.NDArray[np.float64]) -> FeatureDef:
        texts = (self.reasons or {}).get(name, ("", ""))
        description = (self.descriptions or {}).get(name, "")
        if kind == "categorical":
            levels = _levels_by_bad_rate(_clean(series).cast(pl.Utf8), target, self.max_categories)
            return FeatureDef(name, kind, levels, description=description, reason_en=texts[0], reason_zh=texts[1])
        values = _numeric_batch(FeatureDef(name, kind), series)
        median = float(np.nanmedian(values)) if np.isfinite(values).any() else math.nan
        return FeatureDef(name, kind, (), median, description, texts[0], texts[1])

    def transform(self, X: Any) -> FloatArray:
        """A batch: (rows, features) float64, NaN = missing."""
        frame = as_polars(X)
        columns = [_batch_column(feature, _column(frame, feature.name)) for feature in self.spec_.features]
        matrix = np.column_stack(columns) if columns else np.empty((frame.height, 0))
        return np.ascontiguousarray(matrix, dtype=np.float64)

    def transform_row(self, row: dict[str, Any]) -> FloatArray:
        """One application: a (features,) float64 vector, equal to the batch transform's row."""
        out = np.empty(len(self.spec_.features), dtype=np.float64)
        for index, feature in enumerate(self.spec_.features):
            out[index] = _row_value(feature, row.get(feature.name))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return self.feature_names_out_  # type: ignore[no-any-return]


def _column(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:
        raise DataError(name, "column missing from the data")
    return frame.get_column(name)


def _levels_by_bad_rate(text: pl.Series, target: npt.NDArray[np.float64], max_categories: int) -> tuple[str, ...]:
    """Training levels ordered by smoothed bad rate (safest first); rare overflow levels → OTHER."""
    frame = pl.DataFrame({"level": text, "bad": target}).drop_nulls("level")
    counts = frame.group_by("level").agg(pl.len().alias("n"), pl.col("bad").sum().alias("bads"))
    counts = counts.sort(["n", "level"], descending=[True, False])
    kept = counts.head(max_categories)
    rest = counts.slice(max_categories)
    if rest.height:
        other = pl.DataFrame({"level": [OTHER], "n": [rest["n"].sum()], "bads": [rest["bads"].sum()]})
        kept = pl.concat([kept, other.cast(kept.schema)])
    prior = float(target.mean())
    rate = (pl.col("bads") + _SMOOTHING_ROWS * prior) / (pl.col("n") + _SMOOTHING_ROWS)
    ordered = kept.with_columns(rate.alias("rate")).sort(["rate", "level"])
    return tuple(str(level) for level in ordered["level"].to_list())


def _batch_column(feature: FeatureDef, series: pl.Series) -> FloatArray:
    if feature.kind == "categorical":
        return _categorical_batch(feature, series)
    return _numeric_batch(feature, series)


def _numeric_batch(feature: FeatureDef, series: pl.Series) -> FloatArray:
    cleaned = _clean(series)
    if feature.kind == "binary" and cleaned.dtype != pl.Boolean and not cleaned.dtype.is_numeric():
        lowered = cleaned.cast(pl.Utf8).str.to_lowercase()
        mapping = {**dict.fromkeys(_YES, 1.0), **dict.fromkeys(_NO, 0.0), "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
        cleaned = lowered.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=pl.Float64)
        _check_no_new_nulls(feature.name, lowered, cleaned, "yes/no")
    elif cleaned.dtype not in (pl.Float64,):
        numbers = cleaned.cast(pl.Float64, strict=False)
        _check_no_new_nulls(feature.name, cleaned, numbers, "numeric")
        cleaned = numbers
    return cleaned.fill_null(math.nan).to_numpy().astype(np.float64, copy=False)


def _check_no_new_nulls(name: str, before: pl.Series, after: pl.Series, kind: str) -> None:
    bad = after.is_null() & before.is_not_null()
    if bad.any():
        example = before.filter(bad)[0]
        raise DataError(name, f"value {example!r} is not {kind} (in {int(bad.sum())} rows)")


def _categorical_batch(feature: FeatureDef, series: pl.Series) -> FloatArray:
    text = _clean(series.cast(pl.Utf8) if series.dtype != pl.Utf8 else series)
    codes = {level: float(code) for code, level in enumerate(feature.categories)}
    unseen = codes.get(OTHER)
    mapped = text.replace_strict(list(codes), list(codes.values()), default=unseen, return_dtype=pl.Float64)
    return mapped.fill_null(math.nan).to_numpy().astype(np.float64, copy=False)


def _row_value(feature: FeatureDef, value: Any) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in _NA_TOKENS:
            return math.nan
    if feature.kind == "categorical":
        code = _category_code(feature, _as_text(value))
        return math.nan if code is None else float(code)
    if feature.kind == "binary":
        return _binary_value(feature.name, value)
    return _number_value(feature.name, value)


def _as_text(value: Any) -> str:
    """The same text polars gives when it casts the value to a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _category_code(feature: FeatureDef, text: str) -> int | None:
    try:
        return feature.categories.index(text)
    except ValueError:
        return feature.categories.index(OTHER) if OTHER in feature.categories else None


def _binary_value(name: str, value: Any) -> float:
    if isinstance(value, bool | int | float) and float(value) in (0.0, 1.0):
        return float(value)
    lowered = str(value).lower()
    if lowered in _YES or lowered in ("1", "1.0"):
        return 1.0
    if lowered in _NO or lowered in ("0", "0.0"):
        return 0.0
    raise DataError(name, f"value {value!r} is not yes/no")


def _number_value(name: str, value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(name, f"value {value!r} is not numeric") from None


# --------------------------------------------------------------------------- leak check


def single_feature_auc(column: FloatArray, y: IntArray) -> float:
    """max(AUC, 1 − AUC) of one feature alone, missing values ranked both first and last."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    best = 0.5
    for fill in (-np.inf, np.inf):
        filled = np.where(np.isnan(column), fill, column)
        filled = np.where(np.isinf(filled), np.sign(filled) * 1e300, filled)
        auc = float(roc_auc_score(y, filled))
        best = max(best, auc, 1.0 - auc)
    return best


def check_leaks(matrix: FloatArray, y: IntArray, names: list[str], threshold: float = 0.99) -> dict[str, float]:
    """Every feature's single-feature AUC; a DataError (LeakError) for the first above `threshold`."""
    from lendstack.scoring.errors import LeakError

    aucs = {name: single_feature_auc(matrix[:, index], y) for index, name in enumerate(names)}
    for name, auc in aucs.items():
        if auc > threshold:
            raise LeakError(
                name,
                f"separates the target almost perfectly on its own (AUC {auc:.4f} > {threshold}); "
                "it probably leaks the outcome. Drop it, or pass --allow-leaks if it is legitimate",
            )
    return aucs
