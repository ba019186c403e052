"""Reason codes: the top adverse factors of each scored application, in English and Chinese.

- Gradient boosting: TreeSHAP contributions to the log-odds of bad (LightGBM's `pred_contrib`,
  the same values as `shap.TreeExplainer`, tested to 1e-6, far cheaper online). Adverse = the
  largest positive contributions.
- Scorecard: points lost against the best bin of each feature (max points − points), largest
  first; a feature already in its best bin is never a reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lendstack.scoring.features import OTHER, FeatureDef, FeatureSpec

FloatArray = npt.NDArray[np.float64]
_MIN_IMPACT = 1e-9  # a zero contribution explains nothing


@dataclass(frozen=True)
class Reason:
    feature: str
    impact: float  # log-odds of bad added (GBM) or points lost (scorecard)
    value: str
    text_en: str
    text_zh: str


def reason_text(feature: FeatureDef, value: float) -> tuple[str, str]:
    """English and Chinese text for an adverse factor: the feature's template or a generic one."""
    shown = display_value(feature, value)
    if feature.reason_en or feature.reason_zh:
        return (feature.reason_en or feature.reason_zh).format(value=shown, feature=feature.name), (
            feature.reason_zh or feature.reason_en
        ).format(value=shown, feature=feature.name)
    name = feature.description or feature.name
    if math.isnan(value):
        return f"{name} is missing", f"{name} 缺失"
    if feature.kind == "categorical":
        return f"{name} is '{shown}'", f"{name} 为「{shown}」"
    if feature.kind == "binary":
        return f"{name}: {shown}", f"{name}：{'是' if value >= 0.5 else '否'}"
    if not math.isnan(feature.median) and value < feature.median:
        return f"Low value of {name} ({shown})", f"{name} 偏低（{shown}）"
    return f"High value of {name} ({shown})", f"{name} 偏高（{shown}）"


def display_value(feature: FeatureDef, value: float) -> str:
    if math.isnan(value):
        return "missing"
    if feature.kind == "categorical":
        level = feature.categories[int(value)]
        return "other" if level == OTHER else level
    if feature.kind == "binary":
        return "yes" if value >= 0.5 else "no"
    return f"{value:g}"


def top_reasons(
    spec: FeatureSpec, row: FloatArray, impacts: FloatArray, names: list[str], k: int = 4
) -> list[Reason]:
    """The k largest positive impacts of one application; `names[j]` labels `impacts[j]`."""
    assert impacts.shape == (len(names),), "one impact per named feature"
    by_name = {feature.name: (index, feature) for index, feature in enumerate(spec.features)}
    order = np.argsort(-impacts, kind="stable")[:k]
    reasons = []
    for j in order:
        if impacts[j] <= _MIN_IMPACT:
            break
        index, feature = by_name[names[j]]
        en, zh = reason_text(feature, float(row[index]))
        reasons.append(Reason(names[j], float(impacts[j]), display_value(feature, float(row[index])), en, zh))
    return reasons


def global_importance(impacts: FloatArray, names: list[str]) -> dict[str, float]:
    """Mean |impact| per feature over a sample, largest first."""
    mean_abs = np.abs(impacts).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    return {names[j]: float(mean_abs[j]) for j in order}
