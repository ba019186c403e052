"""The points table of a scorecard model, in the form a model validator reads it.

For each feature the scorecard uses: its bins in words ("3,000–5,000", "< 3,000", "≥ 5,000",
category names, yes/no, "missing"), with count, bads, bad rate, WoE and points, and the scaling
(base points at base odds, points to double the odds, how the intercept is spread), the features
left out and why. `scorecard_table(credit)` builds it; `to_csv`, `to_html` and `to_json` render it.

Bin bounds: the FeaturePipeline turns every feature into a number (categories into codes ordered
by bad rate), and optbinning splits that number into [lower, upper) intervals. Integer-valued
features (counts, months, category codes) are shown as inclusive integer ranges, which is exact
for whole numbers ("12–15" holds 12, 13, 14 and 15); other features as half-open intervals rounded
to three significant digits (more if two bounds would print alike); the exact bounds stay in the
`lower` / `upper` fields.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from lendstack.scoring.credit_model import CreditModel
from lendstack.scoring.errors import DataError
from lendstack.scoring.features import OTHER, FeatureDef
from lendstack.scoring.models import ScorecardModel

_SIGNIFICANT_DIGITS = 3
_MAX_DECIMALS = 10  # bound on the search for a precision that tells every bound apart
_MISSING_ZH = "缺失"
_WORDS_ZH = {"missing": _MISSING_ZH, "other": "其他", "yes": "是", "no": "否", "all values": "全部取值",
             "missing or not seen in training": "缺失或训练中未出现", "none": "无"}
_SEPARATOR = "; "  # between category names in one bin (German Credit's names contain commas)
CSV_COLUMNS = ("feature", "bin", "bin_zh", "lower", "upper", "count", "bads", "bad_rate", "woe", "points")


@dataclass(frozen=True)
class ScorecardBin:
    """One row of the points table. `lower` ≤ value < `upper` on the feature's scale (None: open
    end, or not an interval: categories, yes/no, missing)."""

    label: str
    label_zh: str
    lower: float | None
    upper: float | None
    count: int
    bads: int
    bad_rate: float | None  # None for an empty bin (missing, when the fitting sample had none)
    woe: float
    points: float


@dataclass(frozen=True)
class ScorecardFeature:
    name: str
    kind: str
    description: str
    coefficient: float
    iv: float
    bins: tuple[ScorecardBin, ...]


@dataclass(frozen=True)
class ScorecardTable:
    target: str
    bad_value: str | None
    base_points: float
    base_odds: float
    pdo: float
    factor: float  # points per unit of ln(odds) = pdo / ln 2
    offset: float  # base_points − factor·ln(base_odds)
    intercept: float  # of the logistic regression of bad on WoE
    constant_per_feature: float  # (offset − factor·intercept) / number of features, in every bin's points
    fit_rows: int
    min_score: float
    max_score: float
    features: tuple[ScorecardFeature, ...]
    excluded: tuple[tuple[str, str], ...]  # (column, why it is not in the scorecard)
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- building the table


def scorecard_table(credit: CreditModel) -> ScorecardTable:
    """The points table of a scorecard CreditModel; any other kind is a DataError naming `model`."""
    if credit.kind != "scorecard" or not isinstance(credit.base, ScorecardModel):
        raise DataError("model", f"not a scorecard: this is a {credit.kind} model; only scorecards have points")
    scorecard: ScorecardModel = credit.base
    names = scorecard.selected_features()
    coef = scorecard.logistic_.coef_[0]
    assert len(names) == coef.size > 0, "one coefficient per selected feature"
    constant = (scorecard.offset_ - scorecard.factor_ * float(scorecard.logistic_.intercept_[0])) / coef.size
    definitions = {feature.name: feature for feature in credit.spec.features}
    ivs = scorecard.iv()
    position = {str(name): index for index, name in enumerate(scorecard.feature_names_in_)}
    features = tuple(
        _feature(scorecard, definitions.get(name, FeatureDef(name, "numeric")), float(coef[j]), constant,
                 bool(scorecard.integer_valued_[position[name]]), ivs.get(name, math.nan))
        for j, name in enumerate(names)
    )
    fit_rows = sum(b.count for b in features[0].bins)
    return ScorecardTable(
        target=credit.target, bad_value=credit.bad_value, base_points=float(scorecard.base_points),
        base_odds=float(scorecard.base_odds), pdo=float(scorecard.pdo), factor=scorecard.factor_,
        offset=scorecard.offset_, intercept=float(scorecard.logistic_.intercept_[0]),
        constant_per_feature=constant, fit_rows=fit_rows,
        min_score=sum(min(b.points for b in f.bins if b.count) for f in features),
        max_score=sum(max(b.points for b in f.bins if b.count) for f in features),
        features=features, excluded=_before_the_model(credit) + _excluded(scorecard, ivs),
        notes=_notes(credit, scorecard, constant, len(features), fit_rows),
    )


def _feature(scorecard: ScorecardModel, feature: FeatureDef, coef: float, constant: float, integer: bool,
             iv: float) -> ScorecardFeature:
    binned = scorecard.binning_.get_binned_variable(feature.name)
    splits = [float(split) for split in np.asarray(binned.splits, dtype=np.float64)]
    table = binned.binning_table.build()
    records = [record for label, record in table.iterrows() if label != "Totals"]
    assert len(records) == len(splits) + 3, "optbinning: one row per interval, then Special and Missing"
    assert str(records[-1]["Bin"]) == "Missing" and str(records[-2]["Bin"]) == "Special", "optbinning row order"
    bounds = [-math.inf, *splits, math.inf]
    decimals = _decimals(splits)
    bins = []
    coded = feature.kind in ("categorical", "binary")  # bounds on codes mean nothing to a reader
    for index, record in enumerate(records[: len(splits) + 1]):
        lower, upper = bounds[index], bounds[index + 1]
        label = _interval_label(feature, lower, upper, integer, decimals)
        bins.append(_bin(label, None if coded else lower, None if coded else upper, record, coef, constant,
                         scorecard.factor_))
    # Special codes are never configured (the Special row is always empty); the missing bin is kept
    # even when empty: a missing value at scoring time gets its points (WoE 0, the average risk).
    bins.append(_bin(_missing_label(feature), None, None, records[-1], coef, constant, scorecard.factor_))
    return ScorecardFeature(feature.name, feature.kind, feature.description, coef, iv, tuple(bins))


def _bin(label: str, lower: float | None, upper: float | None, record: Any, coef: float, constant: float,
         factor: float) -> ScorecardBin:
    woe = float(record["WoE"])
    assert math.isfinite(woe), f"WoE of bin {label!r} is not finite"
    return ScorecardBin(
        label=label, label_zh=_label_zh(label),
        lower=None if lower is None or math.isinf(lower) else lower,
        upper=None if upper is None or math.isinf(upper) else upper,
        count=int(record["Count"]), bads=int(record["Event"]),
        bad_rate=float(record["Event rate"]) if int(record["Count"]) else None, woe=woe,
        points=constant - factor * coef * woe,  # the same formula as ScorecardModel.points
    )


def _before_the_model(credit: CreditModel) -> tuple[tuple[str, str], ...]:
    """Columns that never reached the scorecard: the training audit's exclusions (protected, leaks, ...;
    absent from artifacts written before it) and the feature pipeline's drops."""
    found: dict[str, str] = {}
    for item in getattr(credit, "audit", {}).get("excluded", []):
        if isinstance(item, dict) and "column" in item:
            found.setdefault(str(item["column"]), f"{item.get('category', 'excluded')}: {item.get('reason', '')}")
    for column, reason in credit.spec.dropped:
        found.setdefault(column, reason)
    return tuple(found.items())


def _excluded(scorecard: ScorecardModel, ivs: dict[str, float]) -> tuple[tuple[str, str], ...]:
    selected_by_iv = set(np.asarray(scorecard.feature_names_in_)[scorecard.binning_.get_support()])
    low_iv = tuple(
        (str(name), f"information value {ivs.get(str(name), math.nan):.4f} below the minimum {scorecard.min_iv}")
        for name in scorecard.feature_names_in_ if name not in selected_by_iv
    )
    return low_iv + tuple((name, message) for name, _, message in scorecard.sign_dropped_)


def _notes(credit: CreditModel, scorecard: ScorecardModel, constant: float, n_features: int,
           fit_rows: int) -> tuple[str, ...]:
    calibration = getattr(credit.model, "method", "sigmoid")
    return (
        f"score = sum of the points of a row's bins = offset + factor·ln(good:bad odds); {scorecard.base_points:g} "
        f"points at odds {scorecard.base_odds:g}:1, {scorecard.pdo:g} more points each time the odds double.",
        f"points of a bin = {constant:.4f} − factor × coefficient × WoE: the offset and the intercept, "
        f"(offset − factor·intercept), are spread evenly over the {n_features} features.",
        "WoE = ln(share of goods / share of bads) in the bin (optbinning): riskier bins have lower WoE, so "
        "with a coefficient ≤ 0 they earn fewer points.",
        *_sign_notes(scorecard),
        f"counts, bad rates and WoE are from the scorecard's fitting sample ({fit_rows} rows); an empty "
        "bin (missing, when the sample had none) has WoE 0, the average risk.",
        f"the PD the model reports is the scorecard's passed through {calibration} calibration fitted on "
        "a separate fold, so the score of `model explain` can differ from the points total.",
        "a–b on a decimal feature means a ≤ value < b; on a whole-number feature both ends are included.",
        *scorecard.notes_,
    )


def _sign_notes(scorecard: ScorecardModel) -> list[str]:
    """Say whether the sign check ran; name any positive coefficient (artifacts fitted before it)."""
    wrong = [(name, float(c)) for name, c in zip(scorecard.selected_features(), scorecard.logistic_.coef_[0],
                                                  strict=True) if c > 0]
    checked = ("sign check: every coefficient is ≤ 0" if scorecard.sign_check
               else "fitted without the sign check")
    return [checked, *(f"{name}: coefficient {c:+.4f} > 0: riskier bins earn MORE points" for name, c in wrong)]


# --------------------------------------------------------------------------- bin labels


def _interval_label(feature: FeatureDef, lower: float, upper: float, integer: bool, decimals: int) -> str:
    if feature.kind == "categorical":  # codes 0, 1, ... index the categories (ordered by bad rate)
        levels = [level for code, level in enumerate(feature.categories) if lower <= code < upper]
        return _SEPARATOR.join("other" if level == OTHER else level for level in levels) or "none"
    if feature.kind == "binary":
        words = [word for value, word in ((0.0, "no"), (1.0, "yes")) if lower <= value < upper]
        return _SEPARATOR.join(words) or "none"
    if math.isinf(lower) and math.isinf(upper):
        return "all values"
    if integer:
        return _integer_label(lower, upper)
    if math.isinf(lower):
        return f"< {_number(upper, decimals)}"
    if math.isinf(upper):
        return f"≥ {_number(lower, decimals)}"
    return _range(_number(lower, decimals), _number(upper, decimals))


def _label_zh(label: str) -> str:
    """The Chinese label: our own words translated, category names as they are in the data."""
    if label in _WORDS_ZH:
        return _WORDS_ZH[label]
    return _SEPARATOR.join(_WORDS_ZH.get(part, part) if part in ("other", "yes", "no") else part
                           for part in label.split(_SEPARATOR))


def _integer_label(lower: float, upper: float) -> str:
    """Whole numbers in [lower, upper): from ceil(lower) to ceil(upper) − 1, both included."""
    first = None if math.isinf(lower) else math.ceil(lower)
    last = None if math.isinf(upper) else math.ceil(upper) - 1
    if first is None:
        return f"≤ {last:,}"
    if last is None:
        return f"≥ {first:,}"
    if first == last:
        return f"{first:,}"
    return _range(f"{first:,}", f"{last:,}") if first < last else "none"


def _range(low: str, high: str) -> str:
    return f"{low} – {high}" if low.startswith("-") or high.startswith("-") else f"{low}–{high}"


def _missing_label(feature: FeatureDef) -> str:
    if feature.kind == "categorical" and OTHER not in feature.categories:
        return "missing or not seen in training"  # unseen levels map to NaN unless an "other" level exists
    return "missing"


def _decimals(splits: list[float]) -> int:
    """Decimals for three significant digits of the smallest bound, more until no two bounds print
    alike (bounded)."""
    nonzero = [abs(split) for split in splits if split != 0]
    if not nonzero:
        return 0
    decimals = max(0, _SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(min(nonzero))))
    while decimals < _MAX_DECIMALS and len({_number(split, decimals) for split in splits}) < len(splits):
        decimals += 1
    return decimals


def _number(value: float, decimals: int) -> str:
    """Thousands separators, round half up (Python's own rounding is half to even), no trailing zeros."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    if decimals > 0:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --------------------------------------------------------------------------- renderers


def to_json(table: ScorecardTable) -> str:
    return json.dumps(table.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)


def to_csv(table: ScorecardTable) -> str:
    """One row per bin (the scaling is in the JSON and HTML). Text cells that a spreadsheet would run
    as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for feature in table.features:
        for b in feature.bins:
            rate = "" if b.bad_rate is None else f"{b.bad_rate:.4f}"
            writer.writerow([_cell(feature.name), _cell(b.label), _cell(b.label_zh), _optional(b.lower),
                             _optional(b.upper), b.count, b.bads, rate, f"{b.woe:.4f}", f"{b.points:.2f}"])
    return out.getvalue()


def _cell(text: str) -> str:
    risky = text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not text[1:2].isdigit())
    return f"'{text}" if risky else text


def _optional(value: float | None) -> str:
    return "" if value is None else repr(value)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def to_html(table: ScorecardTable, title: str = "Scorecard points table") -> str:
    """A self-contained page (inline style, no scripts); every text is escaped."""
    e = html.escape
    scaling = [
        ("target / 目标", f"{table.target} (bad = {table.bad_value if table.bad_value is not None else '1'})"),
        ("base points / 基准分", f"{table.base_points:g} at odds {table.base_odds:g}:1"),
        ("PDO / 翻倍分", f"{table.pdo:g}"),
        ("factor / 系数", f"{table.factor:.4f}"),
        ("offset / 偏移", f"{table.offset:.4f}"),
        ("intercept / 截距", f"{table.intercept:.4f}"),
        ("constant per feature / 每特征常数", f"{table.constant_per_feature:.4f}"),
        ("score range / 分数范围", f"{table.min_score:.1f} – {table.max_score:.1f}"),
        ("fitting rows / 拟合样本", f"{table.fit_rows:,}"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)} / 评分卡分值表</h1><table class='pairs'>",
        *(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in scaling),
        "</table>",
    ]
    for feature in table.features:
        parts.append(_feature_html(feature))
    if table.excluded:
        parts.append("<h2>Features left out / 未入模特征</h2><ul>")
        parts.extend(f"<li><b>{e(name)}</b>: {e(why)}</li>" for name, why in table.excluded)
        parts.append("</ul>")
    parts.append("<h2>Notes / 说明</h2><ul>")
    parts.extend(f"<li>{e(note)}</li>" for note in table.notes)
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def _feature_html(feature: ScorecardFeature) -> str:
    e = html.escape
    meaning = f" — {e(feature.description)}" if feature.description else ""
    head = (f"<h2>{e(feature.name)}{meaning}</h2><p>{e(feature.kind)}, coefficient {feature.coefficient:+.4f}, "
            f"IV {feature.iv:.4f}</p>")
    header = ("<tr><th>bin / 分箱</th><th>count / 数量</th><th>bads / 坏样本</th><th>bad rate / 坏账率</th>"
              "<th>WoE</th><th>points / 分值</th></tr>")
    rows = "".join(
        f"<tr><td>{e(b.label)}</td><td>{b.count:,}</td><td>{b.bads:,}</td><td>{_rate(b.bad_rate)}</td>"
        f"<td>{b.woe:+.4f}</td><td>{b.points:.1f}</td></tr>"
        for b in feature.bins
    )
    return f"{head}<table>{header}{rows}</table>"


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em}td:not(:first-child){text-align:right}"
    "table.pairs td{text-align:left}th{background:#f3f3f3;text-align:left}"
)
