"""Protected attributes: which columns a credit model must not learn from.

Detection, in English and Chinese:

- by the column's NAME, case- and separator-insensitive (`personal_status_and_sex`, `SEX`,
  `maritalStatus`, `申请人性别`): sex/gender/性别, race/afam/black/种族, ethnicity/hispanic/民族,
  religion/宗教/信仰, nationality/citizenship/foreign worker/国籍, marital status/marriage/婚姻/婚否;
- by the column's VALUES, for text columns with few levels: male/female/m/f/男/女 (also combined
  levels such as German Credit's "male : single"), married/single/divorced/widowed/已婚/未婚/离异/丧偶,
  race and religion names. A coded column (Taiwan's SEX = 1/2) can only be found by its name.

Age is detected but KEPT by default: a creditor may use age in an empirically derived, demonstrably
and statistically sound credit scoring system (US Reg B, 12 CFR §1002.6(b)(2)); it is recorded,
and `--protected AGE` excludes it. `--protected COL` adds a column the detection missed;
`--allow-protected COL` keeps a detected one as a feature, recorded with allowed=true and a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from lendstack.scoring.errors import DataError

Attribute = Literal["sex", "race", "ethnicity", "religion", "nationality", "marital_status", "age", "other"]
DetectedBy = Literal["option", "name", "values"]

# Level matching: at least this share of the non-missing rows must carry a recognised level, from at
# least two distinct recognised levels; neutral levels ("other", "unknown", 其他 …) are not counted.
VALUE_SHARE_MIN = 0.8
VALUE_LEVELS_MIN = 2
VALUE_LEVELS_MAX = 50  # more distinct levels than this: free text or an id, not a protected category

# English name vocabulary: single tokens, and phrases as consecutive tokens. Checked in this order,
# so a combined column such as `personal_status_and_sex` is recorded as sex.
_NAME_TOKENS: tuple[tuple[Attribute, frozenset[str]], ...] = (
    ("sex", frozenset({"sex", "gender", "male", "female"})),
    ("race", frozenset({"race", "racial", "afam", "black"})),
    ("ethnicity", frozenset({"ethnicity", "ethnic", "hispanic", "latino", "latina"})),
    ("religion", frozenset({"religion", "religious", "faith"})),
    ("nationality", frozenset({"nationality", "citizenship", "citizen", "foreigner", "immigrant"})),
    ("marital_status", frozenset({"marital", "marriage", "married"})),
)
_NAME_PHRASES: tuple[tuple[Attribute, tuple[str, ...]], ...] = (
    ("nationality", ("foreign", "worker")),
    ("nationality", ("national", "origin")),
    ("nationality", ("country", "of", "birth")),
    ("nationality", ("immigration", "status")),
)
_NAME_CHINESE: tuple[tuple[Attribute, tuple[str, ...]], ...] = (
    ("sex", ("性别",)),
    ("race", ("种族",)),
    ("ethnicity", ("民族",)),
    ("religion", ("宗教", "信仰")),
    ("nationality", ("国籍",)),
    ("marital_status", ("婚姻", "婚否")),
)
# Age: the whole name is about the person's age ("AGE", "age_in_years", "applicant_age", "年龄"),
# not an account's or a loan's age ("account_age" is not a protected attribute).
_AGE_WORDS = frozenset({"age", "dob", "birthdate", "birthday"})
_AGE_QUALIFIERS = frozenset({"in", "years", "yrs", "of", "applicant", "borrower", "customer", "client",
                             "person", "at", "application", "date", "birth", "the"})
_AGE_CHINESE = ("年龄", "出生日期", "出生年月")

# Value vocabulary: English words inside a level, or whole Chinese / one-letter levels.
# Checked in this order (sex first: German "male : single" is a sex column).
_VALUE_ATTRIBUTES: tuple[Attribute, ...] = ("sex", "marital_status", "race", "ethnicity", "religion")
_VALUE_TOKENS: dict[str, frozenset[str]] = {
    "sex": frozenset({"male", "female", "man", "woman", "men", "women"}),
    "marital_status": frozenset({"single", "married", "unmarried", "divorced", "widowed", "widow", "widower",
                                 "separated"}),
    "race": frozenset({"white", "black", "asian", "caucasian", "african"}),
    "ethnicity": frozenset({"hispanic", "latino", "latina"}),
    "religion": frozenset({"christian", "catholic", "protestant", "muslim", "islam", "islamic", "jewish",
                           "hindu", "buddhist", "sikh", "atheist", "agnostic"}),
}
_VALUE_WHOLE: dict[str, frozenset[str]] = {
    "sex": frozenset({"m", "f", "男", "女", "男性", "女性"}),
    "marital_status": frozenset({"已婚", "未婚", "离异", "离婚", "丧偶", "再婚", "初婚", "分居"}),
    "ethnicity": frozenset({"汉族", "少数民族", "回族", "藏族", "维吾尔族", "壮族", "蒙古族", "满族", "苗族"}),
    "religion": frozenset({"佛教", "基督教", "天主教", "伊斯兰教", "道教", "无宗教信仰"}),
}

_NEUTRAL_LEVELS = frozenset({"other", "others", "unknown", "not stated", "not provided", "not given",
                             "prefer not to say", "declined", "none", "其他", "未知", "不详", "不愿透露"})

ATTRIBUTE_ZH: dict[str, str] = {
    "sex": "性别", "race": "种族", "ethnicity": "民族", "religion": "宗教", "nationality": "国籍",
    "marital_status": "婚姻状况", "age": "年龄", "other": "其他",
}
_DETECTED_EN = {"option": "named by --protected", "name": "detected by name", "values": "detected by values"}
_DETECTED_ZH = {"option": "由 --protected 指定", "name": "按列名识别", "values": "按取值识别"}


@dataclass(frozen=True)
class ProtectedColumn:
    """One protected column; `allowed` = kept as a model feature (age by default, or an override)."""

    column: str
    attribute: Attribute
    detected_by: DetectedBy
    allowed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "attribute": self.attribute, "detected_by": self.detected_by,
                "allowed": self.allowed}

    @property
    def reason(self) -> str:
        return f"protected attribute ({self.attribute}), {_DETECTED_EN[self.detected_by]}"

    def warning(self) -> str:
        """The staff-facing warning, English / Chinese."""
        zh_attribute = ATTRIBUTE_ZH[self.attribute]
        zh_how = _DETECTED_ZH[self.detected_by]
        if not self.allowed:
            return (f"{self.column}: excluded: {self.reason} / "
                    f"{self.column}：受保护属性（{zh_attribute}），{zh_how}，已排除")
        if self.attribute == "age" and self.detected_by != "option":
            return (f"{self.column}: age, kept (use --protected {self.column} to exclude); age may be used in an "
                    "empirically derived, statistically sound system (US Reg B §1002.6(b)(2)) / "
                    f"{self.column}：年龄，保留为特征（可用 --protected {self.column} 排除）")
        return (f"{self.column}: kept as a feature by --allow-protected: {self.reason}; the model may treat "
                f"applicants differently by it / {self.column}：受保护属性（{zh_attribute}），"
                "按 --allow-protected 保留为特征，模型可能因此区别对待申请人")


def name_tokens(name: str) -> list[str]:
    """`personal_status_and_sex` → [personal, status, and, sex]; `maritalStatus` → [marital, status]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [token for token in re.split(r"[^0-9a-z]+", spaced.lower()) if token]


def attribute_by_name(name: str) -> Attribute | None:
    """The protected attribute a column's name says it holds, or None."""
    tokens = name_tokens(name)
    token_set = set(tokens)
    for attribute, words in _NAME_TOKENS:
        if token_set & words:
            return attribute
    for attribute, phrase in _NAME_PHRASES:
        if _has_phrase(tokens, phrase):
            return attribute
    for attribute, fragments in _NAME_CHINESE:
        if any(fragment in name for fragment in fragments):
            return attribute
    if _is_age_name(tokens, name):
        return "age"
    return None


def _has_phrase(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(tuple(tokens[start:start + width]) == phrase for start in range(len(tokens) - width + 1))


def _is_age_name(tokens: list[str], name: str) -> bool:
    if any(fragment in name for fragment in _AGE_CHINESE):
        return True
    return bool(set(tokens) & _AGE_WORDS) and set(tokens) <= _AGE_WORDS | _AGE_QUALIFIERS


def attribute_by_values(series: pl.Series) -> Attribute | None:
    """The protected attribute a text column's levels say it holds, or None (numbers: None)."""
    if series.dtype not in (pl.Utf8, pl.Categorical):
        return None
    text = series.cast(pl.Utf8).str.strip_chars().str.to_lowercase().drop_nulls()
    text = text.filter(text != "")
    if text.len() == 0:
        return None
    counts = text.value_counts()
    if counts.height > VALUE_LEVELS_MAX:
        return None
    pairs = [(str(level), int(n)) for level, n in zip(counts[text.name].to_list(), counts["count"].to_list(),
                                                       strict=True) if str(level) not in _NEUTRAL_LEVELS]
    counted = sum(n for _level, n in pairs)
    for attribute in _VALUE_ATTRIBUTES:
        hits = [n for level, n in pairs if _level_is(attribute, level)]
        if len(hits) >= VALUE_LEVELS_MIN and sum(hits) >= VALUE_SHARE_MIN * counted:
            return attribute
    return None


def _level_is(attribute: str, level: str) -> bool:
    if level in _VALUE_WHOLE.get(attribute, frozenset()):
        return True
    return bool(set(name_tokens(level)) & _VALUE_TOKENS.get(attribute, frozenset()))


def detect_protected(
    frame: pl.DataFrame, protected: Iterable[str] = (), allow: Iterable[str] = ()
) -> list[ProtectedColumn]:
    """The protected columns of `frame`, in frame order.

    `protected` names columns to exclude whatever the detection says; `allow` names columns to
    keep as features (the recorded override). A named column that is not in the frame, or one named
    in both lists, is a DataError naming it.
    """
    named, allowed = _checked_names(frame, protected, allow)
    found: list[ProtectedColumn] = []
    for column in frame.columns:
        by_name = attribute_by_name(column)
        by_values = None if by_name is not None else attribute_by_values(frame.get_column(column))
        attribute: Attribute | None = by_name or by_values
        if column in named:
            found.append(ProtectedColumn(column, attribute or "other", "option", allowed=False))
        elif attribute is not None:
            how: DetectedBy = "name" if by_name is not None else "values"
            keep = column in allowed or attribute == "age"
            found.append(ProtectedColumn(column, attribute, how, allowed=keep))
        elif column in allowed:  # not detected, but the user says it is protected and keeps it
            found.append(ProtectedColumn(column, "other", "option", allowed=True))
    return found


def _checked_names(frame: pl.DataFrame, protected: Iterable[str], allow: Iterable[str]) -> tuple[set[str], set[str]]:
    named, allowed = set(protected), set(allow)
    for option, columns in (("--protected", named), ("--allow-protected", allowed)):
        for column in sorted(columns):
            if column not in frame.columns:
                shown = ", ".join(frame.columns[:20])
                raise DataError(column, f"{option} names a column that is not in the data; columns are {shown}")
    both = sorted(named & allowed)
    if both:
        raise DataError(both[0], "named by both --protected and --allow-protected; choose one")
    return named, allowed


def excluded_columns(found: Sequence[ProtectedColumn]) -> list[str]:
    return [item.column for item in found if not item.allowed]
