"""The online reason-code attributions: the numba kernel and the NumPy steps agree, and sum to the score."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lendstack.decisioning import ScoringModel
from lendstack.decisioning import model as decision_model
from lendstack.decisioning.model import PathExplainer


def _rows(sample: pl.DataFrame) -> list[dict[str, object]]:
    # Knock holes in a third of the values: the missing-value branches must agree too.
    rng = np.random.default_rng(3)
    rows = sample.head(200).to_dicts()
    for row in rows:
        for name in list(row):
            if rng.random() < 0.3:
                row[name] = None
    return rows


def test_kernel_and_numpy_attributions_agree_and_sum_to_the_raw_score(small_model: ScoringModel,
                                                                       sample: pl.DataFrame) -> None:
    credit = small_model.credit
    explainer = PathExplainer.build(credit)
    forest = credit.compiled()
    base = float(explainer.node_value[forest.roots].sum())
    assert decision_model.path_kernel() is not None, "numba ships with shap: the kernel path is the one in use"
    for row in _rows(sample):
        x = credit.pipeline.transform_row(row)
        fast = explainer.impacts(credit, x)
        reference = np.zeros(x.size)
        explainer.impacts_numpy(forest, x, reference)
        np.testing.assert_allclose(fast, reference, atol=1e-12)
        assert abs(base + fast.sum() - forest.raw_one(x)) < 1e-9
        assert np.count_nonzero(fast) > 0


def test_reasons_are_the_same_without_numba(small_model: ScoringModel, sample: pl.DataFrame,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(sample)[:40]
    with_kernel = [small_model.reasons(row, 4) for row in rows]
    monkeypatch.setattr(decision_model, "path_kernel", lambda: None)
    without = [small_model.reasons(row, 4) for row in rows]
    assert [[r.feature for r in rs] for rs in with_kernel] == [[r.feature for r in rs] for rs in without]
    assert any(rs for rs in with_kernel)
