"""The feature pipeline: any tabular frame → a float64 matrix, the same for one row and a batch.

Column roles are inferred from the training frame and frozen in a `FeatureSpec` (named, versioned,
documented, persisted with the model):

- numeric: ints and floats; missing → NaN.
- binary: booleans and yes/no strings (yes/y/true/t → 1, no/n/false/f → 0); missing → NaN.
- categorical: other strings. Each level becomes a code ordered by its training bad rate (code 0 =
  the safest level), so a single threshold split or a monotone bin over the code is the usual
  "group categories by event rate" of credit scoring. Levels past `max_categories` (by frequency)
  share the `__other__` code; a level never seen in training is missing (NaN).
- dropped, with a warning naming the column and a category for the audit (`FeaturePipeline.dropped_`):
  constant or all-missing columns; dates (typed, or text in a common format, or YYYYMMDD numbers
  that are clearly dates); identifiers (strings with nearly every value unique; integers with one
  distinct value per row that run in file order, densely cover their range, or are named like an id).

Missing is explicit: NaN in the matrix, which both models treat as its own bin / branch. Which texts
mean "missing" is configurable (`missing_tokens`); by default only empty, NA, N/A, NaN and null
(case-insensitive): "none", "-" and "?" are ordinary categories, because in credit data they are
usually answers ("telephone: none", "collateral: none"). The tokens are frozen in the spec so that
training, `transform` and `transform_row` agree; a spec written before the tokens were configurable
keeps the old set (which also counted none, ? and -) so that old artifacts score exactly as before.

The target (`target_coding`) is coded 1 = bad only when the coding is unambiguous; otherwise the
caller must say which value is bad. The leak guard (`check_leaks`) is invariant under swapping which
value is bad.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
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
DropCategory = Literal["constant", "missing", "identifier", "date"]
TargetHow = Literal["option", "0/1", "value name", "column name"]

SPEC_FORMAT_VERSION = "1"
OTHER = "__other__"
_YES = frozenset({"yes", "y", "true", "t"})
_NO = frozenset({"no", "n", "false", "f"})

# Missing-value tokens, compared after strip + lowercase. "n/a" is kept beside "na": it is the same
# "not available" with a slash, never a real answer, and read_table has always read it as missing.
# "none", "-" and "?" are not: they are answers in credit data (German `telephone: none`).
DEFAULT_MISSING_TOKENS: tuple[str, ...] = ("", "n/a", "na", "nan", "null")
# The set every spec used before the tokens were configurable (and so the set an old spec keeps).
LEGACY_MISSING_TOKENS: tuple[str, ...] = ("", "-", "?", "n/a", "na", "nan", "none", "null")
_MISSING_TOKENS_MAX = 100
_MISSING_TOKEN_CHARS_MAX = 64

_IDENTIFIER_UNIQUE_SHARE = 0.5  # a string column with more distinct values than this share is an id
_IDENTIFIER_MIN_ROWS = 100  # below this, "one distinct integer per row" happens to real features
_IDENTIFIER_DENSE_SPAN = 2.0  # distinct integers covering ≥ 1/2 of [min, max] are a (shuffled) sequence
_IDENTIFIER_WORDS = frozenset({"id", "uuid", "guid"})
_IDENTIFIER_WORDS_ZH = ("编号", "序号")
_DATE_PARSE_SHARE = 0.8  # a text column whose values mostly parse in one date format is a date
_DATE_SAMPLE_MAX = 10_000  # date formats are tried on at most this many values (a strided sample)
_YYYYMMDD_PARSE_SHARE = 0.99  # 8-digit numbers are dates only if nearly all are valid dates
_YYYYMMDD_MIN, _YYYYMMDD_MAX = 19000101, 21001231
# (label shown to the user, polars/chrono formats); a value parses if any of the label's formats does.
_DATE_FORMATS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("YYYY-MM-DD", ("%Y-%m-%d",)),
    ("YYYY-MM-DD HH:MM:SS", ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")),
    ("ISO 8601 YYYY-MM-DDTHH:MM:SS", ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M")),
    ("YYYY/MM/DD", ("%Y/%m/%d", "%Y/%m/%d %H:%M:%S")),
    ("MM/DD/YYYY", ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S")),
    ("DD/MM/YYYY", ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S")),
    ("DD.MM.YYYY", ("%d.%m.%Y", "%d.%m.%Y %H:%M:%S")),
    ("YYYY年M月D日", ("%Y年%m月%d日",)),
)
_MOSTLY_NUMBERS_WORDS_SHARE = 0.1  # a text column with at most this share of words gets a hint
_MOSTLY_NUMBERS_WORDS_MAX = 5
_SMOOTHING_ROWS = 10  # category bad rates shrink toward the overall rate (rare levels are noisy)


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
    """The frozen feature definitions of one model; `version` changes whenever the inputs do.

    `missing_tokens` defaults to the legacy set: a spec written (or pickled) before the field existed
    must keep treating none/?/- as missing, or an old artifact would score differently.
    """

    name: str
    version: str
    features: tuple[FeatureDef, ...]
    dropped: tuple[tuple[str, str], ...] = ()
    format_version: str = SPEC_FORMAT_VERSION
    notes: dict[str, str] = field(default_factory=dict)
    missing_tokens: tuple[str, ...] = LEGACY_MISSING_TOKENS

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
        tokens = document.get("missing_tokens")
        return cls(
            name=document["name"],
            version=document["version"],
            features=features,
            dropped=dropped,
            format_version=document.get("format_version", SPEC_FORMAT_VERSION),
            notes=dict(document.get("notes", {})),
            missing_tokens=LEGACY_MISSING_TOKENS if tokens is None else tuple(str(token) for token in tokens),
        )


# --------------------------------------------------------------------------- missing-value tokens


def missing_tokens_of(tokens: Iterable[str] | None) -> tuple[str, ...]:
    """The normalised token set (stripped, lowercase, sorted, "" always in); None → the default.

    An empty cell is always missing: it cannot be a category anyone chose.
    """
    if tokens is None:
        return DEFAULT_MISSING_TOKENS
    if isinstance(tokens, str):
        raise DataError("missing_tokens", f"give a list of tokens, not one string ({tokens!r})")
    chosen = list(tokens)
    if len(chosen) > _MISSING_TOKENS_MAX:
        raise DataError("missing_tokens", f"{len(chosen)} tokens; at most {_MISSING_TOKENS_MAX}")
    for token in chosen:
        if not isinstance(token, str) or len(token) > _MISSING_TOKEN_CHARS_MAX:
            limit = _MISSING_TOKEN_CHARS_MAX
            raise DataError("missing_tokens", f"{token!r} is not a text of at most {limit} characters")
    return tuple(sorted({"", *(token.strip().lower() for token in chosen)}))


@functools.lru_cache(maxsize=64)
def _token_set(tokens: tuple[str, ...]) -> frozenset[str]:
    """Set lookup for the per-row path (a spec stores a tuple so that it serialises)."""
    return frozenset(tokens)


def _case_spellings(token: str) -> set[str]:
    """Every upper/lower spelling of a short token (NA, Na, nA ...); common ones for a long one.

    polars' CSV null_values match exactly, while the pipeline compares case-insensitively."""
    if len(token) <= 4:
        return {"".join(chars) for chars in itertools.product(*({c.lower(), c.upper()} for c in token))}
    return {token, token.lower(), token.upper(), token.title()}


# --------------------------------------------------------------------------- reading files


def read_table(path: str | Path, missing_tokens: Iterable[str] | None = None) -> pl.DataFrame:
    """Read a CSV or Parquet file; an unreadable file is a DataError naming it.

    CSV cells equal to a missing token (any letter case) are read as null, with the same default as
    `FeaturePipeline`, so a numeric column with "NA" in it stays numeric."""
    source = Path(path)
    if not source.is_file():
        raise DataError("data", f"no such file: {source}")
    null_values = sorted(set().union(*(_case_spellings(token) for token in missing_tokens_of(missing_tokens))))
    try:
        if source.suffix.lower() in {".parquet", ".pq"}:
            frame = pl.read_parquet(source)
        else:
            frame = pl.read_csv(source, infer_schema_length=None, null_values=null_values)
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

# Values that name the bad outcome, after strip, lowercase and -/_ → space. A two-valued target with
# exactly one of these is coded without asking (German `creditability` good/bad, "Charged Off").
_BAD_OUTCOME_VALUES = frozenset({
    "bad", "default", "defaulted", "defaulter", "delinquent", "charged off", "charge off", "chargeoff",
    "written off", "write off", "writeoff", "bad debt",
    "违约", "已违约", "逾期", "已逾期", "坏", "坏账", "坏客户", "不良",
})
# Words of a column name that name the bad event: with a yes/no-style target, yes is then the event.
_BAD_EVENT_WORDS = frozenset({
    "default", "defaults", "defaulted", "defaulter", "bad", "delinquent", "delinquency", "delinq",
    "chargeoff", "chargedoff", "writeoff", "writtenoff", "dpd",
})
_BAD_EVENT_PHRASES = (("charged", "off"), ("charge", "off"), ("write", "off"), ("written", "off"))
_BAD_EVENT_ZH = ("违约", "逾期", "坏账", "不良")
# A negated or two-sided name ("no_default", "non_default", "good_bad", "未违约") names nothing.
_NAME_NEGATIONS = frozenset({"no", "not", "non", "never", "good"})
_ZH_NEGATIONS = ("未", "非", "无", "没", "不")
# Two-valued codings with a "yes" side: (yes, no). 1/2 follows the survey convention 1 = yes.
_YES_NO_PAIRS = (("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"), ("是", "否"))


@dataclass(frozen=True)
class TargetCoding:
    """Which value of the target is bad, how that was decided, and the counts (for the audit).

    how: "option" (the caller said), "0/1" (1 is bad), "value name" (the value names the bad
    outcome: bad, default, charged off, 违约 …), "column name" (yes/no-style values under a column
    named for the bad event: default, delinquent, 逾期 …; yes/y/true/1/是 is bad).
    """

    column: str
    bad_value: str
    how: TargetHow
    bad_rate: float
    rows: int
    bads: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_coding(
    values: pl.Series, bad_value: str | None = None, *, min_bads: int = 30
) -> tuple[IntArray, TargetCoding]:
    """1 = bad, 0 = good, and how the bad value was chosen.

    The target must have exactly two values and at least `min_bads` bads and goods. Without
    `bad_value`, the coding must be unambiguous: 0/1; or one value naming the bad outcome; or a
    yes/no, Y/N, true/false (text or Boolean dtype), 是/否 or 1/2 target whose column name names the
    bad event. Anything else — yes/no under a neutral name like AER's `card`, where yes is an
    approval — is a DataError asking for --bad-value: a wrong guess silently inverts the model.
    """
    column = values.name
    assert min_bads >= 1, "min_bads must be positive"
    if values.len() == 0:
        raise DataError(column, "target has no rows")
    if values.null_count() > 0:
        raise DataError(column, f"target has {values.null_count()} missing values; drop those rows first")
    texts = values.cast(pl.Utf8).str.strip_chars()
    lowered = texts.str.to_lowercase()
    levels = sorted(lowered.unique().to_list())
    if len(levels) == 1:
        raise DataError(column, f"target has only one class ({levels[0]!r}); need goods and bads")
    if len(levels) > 2:
        shown = ", ".join(repr(level) for level in levels[:6])
        raise DataError(column, f"target is not binary: {len(levels)} distinct values ({shown}, ...)")
    bad, how = _bad_level(column, levels, bad_value)
    is_bad = lowered == bad
    y = is_bad.to_numpy().astype(np.int8)
    bads = int(y.sum())
    if bads < min_bads:
        raise DataError(column, f"only {bads} bads (target == {bad!r}); need at least {min_bads}")
    if len(y) - bads < min_bads:
        raise DataError(column, f"only {len(y) - bads} goods; need at least {min_bads}")
    spelled = str(texts.filter(is_bad)[0])  # the file's own spelling ("Charged Off"), for the audit
    coding = TargetCoding(column, spelled, how, bads / len(y), len(y), bads)
    return y, coding


def encode_target(values: pl.Series, bad_value: str | None = None, *, min_bads: int = 30) -> IntArray:
    """1 = bad, 0 = good: `target_coding` without the coding record."""
    return target_coding(values, bad_value, min_bads=min_bads)[0]


def _bad_level(column: str, levels: list[str], bad_value: str | None) -> tuple[str, TargetHow]:
    """The (lowercase) bad level of a two-valued target, and how it was decided."""
    assert len(levels) == 2
    if bad_value is not None:
        return _chosen_level(column, levels, bad_value), "option"
    if [_as_number(level) for level in levels] == [0.0, 1.0]:
        return levels[1], "0/1"
    named = [level for level in levels if _outcome_text(level) in _BAD_OUTCOME_VALUES]
    if len(named) == 1:
        return named[0], "value name"
    yes = _yes_level(levels)
    if yes is not None and _names_bad_event(column):
        return yes, "column name"
    shown = ", ".join(repr(level) for level in levels)
    why = (f"the column name {column!r} does not name the bad event, so 'yes' could mean approved"
           if yes is not None else "neither value names the bad outcome")
    raise DataError(column, f"cannot tell which value means 'bad' ({why}); give --bad-value (values are {shown})")


def _chosen_level(column: str, levels: list[str], bad_value: str) -> str:
    wanted = str(bad_value).strip().lower()
    if wanted not in levels and _as_number(wanted) is not None:
        wanted = next((level for level in levels if _as_number(level) == _as_number(wanted)), wanted)
    if wanted not in levels and levels == ["false", "true"]:  # a Boolean target: yes/1 means true
        wanted = "true" if wanted in _YES | {"1"} else "false" if wanted in _NO | {"0"} else wanted
    if wanted not in levels:
        raise DataError(column, f"--bad-value {bad_value!r} is not a value of the target ({levels})")
    return wanted


def _outcome_text(level: str) -> str:
    return " ".join(level.replace("-", " ").replace("_", " ").split())


def _yes_level(levels: list[str]) -> str | None:
    """The "yes" side of a yes/no-style pair of levels (1 of 1/2), or None."""
    pair = set(levels)
    for yes, no in _YES_NO_PAIRS:
        if pair == {yes, no}:
            return yes
    numbers = {_as_number(level): level for level in levels}
    if set(numbers) == {1.0, 2.0}:
        return numbers[1.0]
    return None


def _names_bad_event(column: str) -> bool:
    """Whether a column name names the bad event (default_12m, is_delinquent, 是否违约 …)."""
    for word in _BAD_EVENT_ZH:
        at = column.find(word)
        if at >= 0:
            negated = column[max(at - 1, 0):at] in _ZH_NEGATIONS or column[max(at - 2, 0):at] == "没有"
            return not negated
    split = re.sub(r"([a-z])([A-Z])", r"\1 \2", column).lower()  # isDefault → is default
    words = re.findall(r"[a-z]+|\d+", split)
    if _NAME_NEGATIONS & set(words):
        return False
    pairs = set(itertools.pairwise(words))
    return bool(_BAD_EVENT_WORDS & set(words)) or any(phrase in pairs for phrase in _BAD_EVENT_PHRASES)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------- role inference

# (kind, "", "") for a kept column; (None, category, reason) for a dropped one.
_Role = tuple[FeatureKind | None, str, str]


def classify_columns(
    frame: pl.DataFrame, max_categories: int = 50, missing_tokens: Iterable[str] | None = None
) -> tuple[dict[str, FeatureKind], list[dict[str, str]]]:
    """Each kept column's kind, and the dropped ones as {"column", "category", "reason"} (frame order).

    category is one of "constant", "missing", "identifier", "date"."""
    assert max_categories >= 1
    tokens = missing_tokens_of(missing_tokens)
    kinds: dict[str, FeatureKind] = {}
    dropped: list[dict[str, str]] = []
    for name in frame.columns:
        kind, category, reason = _role_of(name, _clean(frame.get_column(name), tokens), frame.height, max_categories)
        if kind is None:
            dropped.append({"column": name, "category": category, "reason": reason})
        else:
            kinds[name] = kind
    return kinds, dropped


def infer_roles(
    frame: pl.DataFrame, max_categories: int = 50, missing_tokens: Iterable[str] | None = None
) -> tuple[dict[str, FeatureKind], list[tuple[str, str]]]:
    """Each column's kind, and the dropped columns with the reason (in frame order)."""
    kinds, dropped = classify_columns(frame, max_categories, missing_tokens)
    return kinds, [(item["column"], item["reason"]) for item in dropped]


def _clean(series: pl.Series, tokens: tuple[str, ...]) -> pl.Series:
    """Strings stripped, missing tokens as nulls; other types unchanged."""
    if series.dtype not in (pl.Utf8, pl.Categorical):
        return series
    text = series.cast(pl.Utf8).str.strip_chars()
    return text.set(text.str.to_lowercase().is_in(list(tokens)).fill_null(False), None)


def _role_of(name: str, series: pl.Series, height: int, max_categories: int) -> _Role:
    present = series.drop_nulls()
    if series.dtype.is_float():
        present = present.filter(~present.is_nan())
    if present.len() == 0:
        return None, "missing", "all values missing"
    if present.n_unique() == 1:
        return None, "constant", f"constant (every value is {present[0]!r})"
    if series.dtype.is_temporal():
        return None, "date", f"a date or time ({series.dtype} column); derive an age or a month instead"
    if series.dtype == pl.Boolean:
        return "binary", "", ""
    if series.dtype.is_numeric():
        return _numeric_role(name, present)
    return _string_role(name, present.cast(pl.Utf8), height, max_categories)


def _numeric_role(name: str, present: pl.Series) -> _Role:
    if _is_yyyymmdd(present):
        return None, "date", "a date (YYYYMMDD numbers); derive an age or a month instead"
    identifier = _identifier_reason(name, present)
    if identifier:
        return None, "identifier", f"identifier-like: {identifier}; an identifier carries no credit information"
    return "numeric", "", ""


def _string_role(name: str, present: pl.Series, height: int, max_categories: int) -> _Role:
    lowered = set(present.str.to_lowercase().unique().to_list())
    if lowered <= _YES | _NO and lowered & _YES and lowered & _NO:
        return "binary", "", ""
    numbers = present.cast(pl.Float64, strict=False)
    if numbers.null_count() == 0:
        if present.str.contains(r"^\d{8}$").all() and _is_yyyymmdd(numbers.cast(pl.Int64)):
            return None, "date", "a date (YYYYMMDD); derive an age or a month instead"
        return _numeric_role(name, numbers)
    date = _date_format(present)
    if date is not None:
        label, share = date
        return None, "date", f"a date ({label}, {share:.0%} of values); derive an age or a month instead"
    distinct = present.n_unique()
    if distinct > max_categories and distinct > _IDENTIFIER_UNIQUE_SHARE * height:
        return None, "identifier", f"identifier-like ({distinct} distinct values in {height} rows)"
    return "categorical", "", ""


def _mostly_numbers_hint(series: pl.Series) -> str:
    """A note for a text column that is numbers but for a few words ("none", "?"): those words make
    it a category, which is right if they are answers and wrong if they mean "missing"."""
    present = series.drop_nulls().cast(pl.Utf8)
    words = present.filter(present.cast(pl.Float64, strict=False).is_null())
    if words.len() == 0 or words.len() > _MOSTLY_NUMBERS_WORDS_SHARE * present.len():
        return ""
    distinct = sorted(words.unique().to_list())
    if len(distinct) > _MOSTLY_NUMBERS_WORDS_MAX:
        return ""
    shown = ", ".join(repr(word) for word in distinct)
    return (f"numbers except {shown} in {words.len()} rows, so it is treated as a category; if those words "
            "mean missing, add them to the missing tokens")


def _date_format(present: pl.Series) -> tuple[str, float] | None:
    """The common date format most values parse in, and that share, if it reaches _DATE_PARSE_SHARE."""
    step = max(1, math.ceil(present.len() / _DATE_SAMPLE_MAX))
    sample = present.gather_every(step)
    if not sample.str.contains(r"\d").any():
        return None
    best: tuple[str, float] | None = None
    for label, formats in _DATE_FORMATS:
        parsed = pl.Series([False] * sample.len())
        for form in formats:
            try:
                parsed = parsed | sample.str.strptime(pl.Datetime, form, strict=False).is_not_null()
            except pl.exceptions.PolarsError:  # a value polars cannot even attempt: not this format
                continue
        share = int(parsed.sum()) / sample.len()
        if share >= _DATE_PARSE_SHARE and (best is None or share > best[1]):
            best = (label, share)
    return best


def _is_yyyymmdd(present: pl.Series) -> bool:
    """Integers that are nearly all valid YYYYMMDD dates (1900–2100). A numeric code or an amount in
    that range is valid only by chance (month ≤ 12 and day ≤ 31 of 100 each: about 4 %)."""
    if not present.dtype.is_integer() or present.n_unique() < 2:
        return False
    low, high = present.min(), present.max()
    assert isinstance(low, int) and isinstance(high, int)
    if low < _YYYYMMDD_MIN or high > _YYYYMMDD_MAX:
        return False
    dates = present.cast(pl.Utf8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    return int(dates.is_not_null().sum()) >= _YYYYMMDD_PARSE_SHARE * present.len()


def _identifier_reason(name: str, present: pl.Series) -> str:
    """Why an integer column is an identifier ("" if it is not): one distinct value per row, and a
    running number in file order, or densely covering its range (a shuffled sequence), or named id.
    A real amount is kept: floats with fractions, repeated values, or distinct integers spread
    sparsely over a wide range (amounts in minor units)."""
    rows = present.len()
    if rows < _IDENTIFIER_MIN_ROWS or present.n_unique() != rows:
        return ""
    values = present.cast(pl.Float64).to_numpy()
    if not (np.all(np.isfinite(values)) and np.all(values == np.floor(values))):
        return ""
    steps = np.diff(values)
    first, last = f"{values[0]:.0f}", f"{values[-1]:.0f}"
    if np.all(steps > 0) or np.all(steps < 0):
        order = "increasing" if steps[0] > 0 else "decreasing"
        return f"a running number ({first} … {last}, strictly {order} in file order)"
    low, high = float(values.min()), float(values.max())
    if high - low + 1 <= _IDENTIFIER_DENSE_SPAN * rows:
        return f"one distinct integer per row, densely covering {low:.0f}–{high:.0f}"
    if _names_identifier(name):
        return "one distinct integer per row, and the name says it is an id"
    return ""


def _names_identifier(name: str) -> bool:
    split = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    words = set(re.findall(r"[a-z]+", split))
    return bool(words & _IDENTIFIER_WORDS) or any(word in name for word in _IDENTIFIER_WORDS_ZH)


# --------------------------------------------------------------------------- the transformer


class FeaturePipeline(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Learn a FeatureSpec from a training frame; turn frames or single rows into float64 features.

    `descriptions` and `reasons` map column → text ("reasons" values are (english, chinese)
    templates for an adverse reason code); columns without them get generic texts.
    `missing_tokens`: the texts that mean missing (None = DEFAULT_MISSING_TOKENS), frozen in the spec.
    After fit, `dropped_` lists the dropped columns as {"column", "category", "reason"}.
    """

    def __init__(
        self,
        name: str = "features",
        version: str = "1",
        max_categories: int = 50,
        descriptions: dict[str, str] | None = None,
        reasons: dict[str, tuple[str, str]] | None = None,
        missing_tokens: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.max_categories = max_categories
        self.descriptions = descriptions
        self.reasons = reasons
        self.missing_tokens = missing_tokens

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("missing_tokens", None)  # pipelines pickled before the parameter existed
        state.setdefault("dropped_", [])
        super().__setstate__(state)

    def fit(self, X: Any, y: Any = None) -> FeaturePipeline:
        frame = as_polars(X)
        assert y is not None and len(y) == frame.height, "FeaturePipeline.fit needs the target (bad = 1)"
        tokens = missing_tokens_of(self.missing_tokens)
        kinds, dropped = classify_columns(frame, self.max_categories, tokens)
        for item in dropped:
            warnings.warn(f"{item['column']}: dropped: {item['reason']}", DataWarning, stacklevel=2)
        for name in (name for name, kind in kinds.items() if kind == "categorical"):
            hint = _mostly_numbers_hint(_clean(frame.get_column(name), tokens))
            if hint:
                warnings.warn(f"{name}: {hint}", DataWarning, stacklevel=2)
        if not kinds:
            names = ", ".join(item["column"] for item in dropped)
            raise DataError("data", "no usable feature columns left after dropping " + names)
        target = np.asarray(y, dtype=np.float64)
        features = tuple(
            self._define(name, kind, frame.get_column(name), target, tokens) for name, kind in kinds.items()
        )
        reasons = tuple((item["column"], item["reason"]) for item in dropped)
        self.spec_ = FeatureSpec(self.name, self.version, features, reasons, missing_tokens=tokens)
        self.dropped_ = dropped
        self.n_features_in_ = frame.width
        self.feature_names_out_ = np.array(self.spec_.names, dtype=object)
        return self

    def _define(
        self, name: str, kind: FeatureKind, series: pl.Series, target: FloatArray, tokens: tuple[str, ...]
    ) -> FeatureDef:
        texts = (self.reasons or {}).get(name, ("", ""))
        description = (self.descriptions or {}).get(name, "")
        if kind == "categorical":
            levels = _levels_by_bad_rate(_clean(series, tokens).cast(pl.Utf8), target, self.max_categories)
            return FeatureDef(name, kind, levels, description=description, reason_en=texts[0], reason_zh=texts[1])
        values = _numeric_batch(FeatureDef(name, kind), series, tokens)
        median = float(np.nanmedian(values)) if np.isfinite(values).any() else math.nan
        return FeatureDef(name, kind, (), median, description, texts[0], texts[1])

    def transform(self, X: Any) -> FloatArray:
        """A batch: (rows, features) float64, NaN = missing."""
        frame = as_polars(X)
        tokens = self.spec_.missing_tokens
        columns = [_batch_column(feature, _column(frame, feature.name), tokens) for feature in self.spec_.features]
        matrix = np.column_stack(columns) if columns else np.empty((frame.height, 0))
        return np.ascontiguousarray(matrix, dtype=np.float64)

    def transform_row(self, row: dict[str, Any]) -> FloatArray:
        """One application: a (features,) float64 vector, equal to the batch transform's row."""
        tokens = _token_set(self.spec_.missing_tokens)
        out = np.empty(len(self.spec_.features), dtype=np.float64)
        for index, feature in enumerate(self.spec_.features):
            out[index] = _row_value(feature, row.get(feature.name), tokens)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return self.feature_names_out_  # type: ignore[no-any-return]


def _column(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:
        raise DataError(name, "column missing from the data")
    return frame.get_column(name)


def _levels_by_bad_rate(text: pl.Series, target: FloatArray, max_categories: int) -> tuple[str, ...]:
    """Training levels ordered by smoothed bad rate (safest first); rare overflow levels → OTHER.

    Sorted in exact arithmetic by (smoothed rate, raw rate, name): swapping which target value is bad
    then exactly reverses the order wherever it matters, so a feature's AUC does not depend on the
    coding. (Two levels can tie on the smoothed rate with different raw rates; a name tie-break alone
    would keep their order under the swap. Levels tied on both have equal raw rates, whose order
    does not change any AUC.)"""
    frame = pl.DataFrame({"level": text, "bad": target}).drop_nulls("level")
    counts = frame.group_by("level").agg(pl.len().alias("n"), pl.col("bad").sum().alias("bads"))
    counts = counts.sort(["n", "level"], descending=[True, False])
    kept = counts.head(max_categories)
    rest = counts.slice(max_categories)
    if rest.height:
        other = pl.DataFrame({"level": [OTHER], "n": [rest["n"].sum()], "bads": [rest["bads"].sum()]})
        kept = pl.concat([kept, other.cast(kept.schema)])
    rows_total, bads_total = len(target), round(float(target.sum()))
    assert rows_total > 0

    def order(level: str, rows: int, bads: float) -> tuple[Fraction, Fraction, str]:
        bad_rows = round(bads)
        smoothed = Fraction(bad_rows * rows_total + _SMOOTHING_ROWS * bads_total, rows_total * (rows + _SMOOTHING_ROWS))
        return smoothed, Fraction(bad_rows, rows), level

    ordered = sorted((order(str(level), int(rows), float(bads)) for level, rows, bads in kept.iter_rows()))
    return tuple(level for _, _, level in ordered)


def _batch_column(feature: FeatureDef, series: pl.Series, tokens: tuple[str, ...]) -> FloatArray:
    if feature.kind == "categorical":
        return _categorical_batch(feature, series, tokens)
    return _numeric_batch(feature, series, tokens)


def _numeric_batch(feature: FeatureDef, series: pl.Series, tokens: tuple[str, ...]) -> FloatArray:
    cleaned = _clean(series, tokens)
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


def _categorical_batch(feature: FeatureDef, series: pl.Series, tokens: tuple[str, ...]) -> FloatArray:
    text = _clean(series.cast(pl.Utf8) if series.dtype != pl.Utf8 else series, tokens)
    codes = {level: float(code) for code, level in enumerate(feature.categories)}
    unseen = codes.get(OTHER)
    mapped = text.replace_strict(list(codes), list(codes.values()), default=unseen, return_dtype=pl.Float64)
    return mapped.fill_null(math.nan).to_numpy().astype(np.float64, copy=False)


def _row_value(feature: FeatureDef, value: Any, tokens: frozenset[str]) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in tokens:
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

_LEAK_ROWS_MAX = 50_000_000  # rank sums stay exact in float64 (< 2**53) up to here


@dataclass(frozen=True)
class LeakReport:
    """Single-feature separation of every feature: aucs = max(AUC, 1 − AUC), so it does not depend on
    which value is bad; `warned` are the features in [warn_from, threshold] (kept, but worth a look)."""

    threshold: float
    warn_from: float
    aucs: dict[str, float]
    warned: list[str]

    @property
    def refused(self) -> list[str]:
        """Features above the threshold, worst first."""
        above = [name for name, auc in self.aucs.items() if auc > self.threshold]
        return sorted(above, key=lambda name: -self.aucs[name])

    def to_dict(self) -> dict[str, Any]:
        """The audit's "leak_check" entry (JSON-ready)."""
        return {"threshold": self.threshold, "warn_from": self.warn_from, "aucs": dict(self.aucs),
                "warned": list(self.warned)}


def single_feature_auc(column: FloatArray, y: IntArray) -> float:
    """max(AUC, 1 − AUC) of one feature alone, missing values ranked both first and last.

    Computed from exact rank sums (Mann–Whitney U, ties at mid-rank), so swapping which class is bad
    gives bit-for-bit the same value."""
    from scipy.stats import rankdata  # type: ignore[import-untyped]

    values = np.asarray(column, dtype=np.float64)
    labels = np.asarray(y)
    assert values.ndim == 1 and values.shape == labels.shape, "one value per target row"
    assert values.size <= _LEAK_ROWS_MAX, "rank sums would lose exactness"
    bads = int(labels.sum())
    goods = labels.size - bads
    assert bads > 0 and goods > 0, "the target needs both classes"
    missing = np.isnan(values)
    missing_count = int(missing.sum())
    present_ranks = rankdata(values[~missing])  # 1 … present, ties averaged
    best = 0.0
    for missing_first in (True, False):
        ranks = np.empty(values.size, dtype=np.float64)
        shift = missing_count if missing_first else 0
        ranks[~missing] = present_ranks + shift
        low = 1 if missing_first else values.size - missing_count + 1
        ranks[missing] = low + (missing_count - 1) / 2.0
        u = float(ranks[labels == 1].sum()) - bads * (bads + 1) / 2.0
        best = max(best, u, bads * goods - u)
    return best / (bads * goods)


def leak_report(
    matrix: FloatArray, y: IntArray, names: list[str], threshold: float = 0.99, warn_from: float = 0.95
) -> LeakReport:
    """Every feature's single-feature AUC against the thresholds, without refusing anything."""
    assert 0.5 <= warn_from <= threshold <= 1.0, "need 0.5 ≤ warn_from ≤ threshold ≤ 1"
    assert matrix.ndim == 2 and matrix.shape == (len(y), len(names)), "matrix must be rows × names"
    aucs = {name: single_feature_auc(matrix[:, index], y) for index, name in enumerate(names)}
    warned = [name for name, auc in aucs.items() if warn_from <= auc <= threshold]
    return LeakReport(threshold, warn_from, aucs, warned)


def check_leaks(
    matrix: FloatArray, y: IntArray, names: list[str], threshold: float = 0.99, warn_from: float = 0.95
) -> LeakReport:
    """The leak report; a LeakError naming the worst feature if any is above `threshold`, and a
    DataWarning for each feature in the warning band. Run it on all training rows (before any split)
    so that the verdict does not depend on the split drawn."""
    from lendstack.scoring.errors import LeakError

    report = leak_report(matrix, y, names, threshold, warn_from)
    refused = report.refused
    if refused:
        worst = refused[0]
        others = f" (also above: {', '.join(refused[1:6])})" if len(refused) > 1 else ""
        raise LeakError(
            worst,
            f"separates the target almost perfectly on its own (AUC {report.aucs[worst]:.4f} > {threshold}){others}; "
            "it probably leaks the outcome. Drop it, or pass --allow-leaks if it is legitimate",
        )
    for name in report.warned:
        warnings.warn(
            f"{name}: separates the target strongly on its own (AUC {report.aucs[name]:.4f}, warning from "
            f"{warn_from}); kept, but check that it is known at application time",
            DataWarning, stacklevel=2,
        )
    return report
