"""The online reason-code attributions: the numba kernel and the NumPy steps agree and sum to the score,
online (path) and offline (SHAP) reasons give the same directions, and the engine's default model
respects the simulator's monotone directions and words its reasons with the simulator's dictionary."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lendstack.decisioning import ScoringModel
from lendstack.decisioning.model import PathExplainer
from lendstack.scoring import explain as explain_module
from lendstack.scoring.dictionary import stored_dictionary
from lendstack.scoring.explain import Reason, forbidden
from lendstack.services.models import SIM_MONOTONE


def _rows(sample: pl.DataFrame) -> list[dict[str, object]]:
    # Knock holes in a third of the values: the missing-value branches must agree too.
    rng = np.random.default_rng(3)
    rows = sample.head(200).to_dicts()
    for row in rows:
        for name in list(row):
            if rng.random() < 0.3:
                row[name] = None
    return rows


def test_kernel_and_numpy_sides_agree_and_sum_to_the_raw_score(small_model: ScoringModel,
                                                               sample: pl.DataFrame) -> None:
    credit = small_model.credit
    forest = credit.compiled()
    explainer = PathExplainer.build(credit.base.booster_, forest)
    base = float(explainer.node_value[forest.roots].sum())
    assert explain_module.path_sides_kernel() is not None, "numba ships with shap: the kernel path is the one in use"
    both_sides = 0
    for row in _rows(sample):
        x = credit.pipeline.transform_row(row)
        total, low, high = explainer.sides(forest, x)
        reference_low, reference_high = np.zeros(x.size), np.zeros(x.size)
        explainer.sides_numpy(forest, x, reference_low, reference_high)
        np.testing.assert_allclose(low, reference_low, atol=1e-12)
        np.testing.assert_allclose(high, reference_high, atol=1e-12)
        assert abs(base + total.sum() - forest.raw_one(x)) < 1e-9
        assert np.count_nonzero(low) > 0 and np.count_nonzero(high) > 0
        both_sides += int(np.count_nonzero((low != 0) & (high != 0)))
    assert both_sides > 0, "some features are split on both sides along a path: the side sums matter"


def test_reasons_are_the_same_without_numba(small_model: ScoringModel, sample: pl.DataFrame,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(sample)[:40]
    with_kernel = [small_model.reasons(row, 4) for row in rows]
    monkeypatch.setattr(explain_module, "path_sides_kernel", lambda: None)
    without = [small_model.reasons(row, 4) for row in rows]
    def shown(reasons: list[list[Reason]]) -> list[list[tuple[str, str, str, str]]]:
        return [[(r.feature, r.direction, r.text_en, r.text_zh) for r in rs] for rs in reasons]

    assert shown(with_kernel) == shown(without)  # the impacts differ only by summation order:
    np.testing.assert_allclose([r.impact for rs in with_kernel for r in rs], [r.impact for rs in without for r in rs],
                               atol=1e-12)
    assert any(rs for rs in with_kernel)


def test_online_and_offline_directions_agree(small_model: ScoringModel, sample: pl.DataFrame) -> None:
    """Online: path attributions; offline (`CreditModel.explain`): SHAP sizes. Both take the direction
    from the same path sides, so a feature both name reads the same way; they mostly name the same."""
    rows = _rows(sample)
    frame = pl.DataFrame(rows, schema=sample.schema)
    offline = small_model.credit.explain(frame, 6)
    shared = same = top_agree = 0
    for row, off in zip(rows, offline, strict=True):
        on = small_model.reasons(row, 6)
        off_direction = {r.feature: r.direction for r in off}
        for reason in on:
            if reason.feature in off_direction:
                shared += 1
                same += reason.direction == off_direction[reason.feature]
        top_agree += bool(on and off and on[0].feature == off[0].feature)
    assert shared >= 300 and same == shared, (shared, same)
    assert top_agree >= 0.5 * len(rows), top_agree


def test_default_model_has_the_simulator_directions_and_dictionary(small_model: ScoringModel,
                                                                   sample: pl.DataFrame) -> None:
    credit = small_model.credit
    assert credit.params["monotone"] == SIM_MONOTONE
    words = stored_dictionary(credit)
    assert words is not None and words.name == "lendstack.sim"
    reasons = [reason for row in sample.head(300).to_dicts() for reason in small_model.reasons(row, 4)]
    assert len(reasons) >= 600
    assert not [r for r in reasons if forbidden(r.direction, SIM_MONOTONE.get(r.feature, 0))]
    constrained = [r for r in reasons if r.feature in SIM_MONOTONE and r.direction in ("high", "low")]
    assert len(constrained) >= 200  # the constraints are exercised, not vacuous
    money = [r for r in reasons if r.feature.endswith("_minor") and r.direction in ("high", "low")]
    assert money and all(r.value.endswith(" CNY") and "元" in r.text_zh for r in money)
    assert not [r for r in reasons if "_minor" in r.text_en or "_minor" in r.text_zh]
    income = [r for r in reasons if r.feature == "monthly_income_minor" and r.direction == "low"]
    assert income and income[0].text_en.startswith("monthly personal income is low (")
    assert "月收入偏低（" in income[0].text_zh and "月收入越低风险越高" in income[0].text_zh
