"""Information value right for binary, rare and missing values (issue 13 §4), against cross-tabs
computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lendstack.scoring.evaluation import IV_CELL_SMOOTHING, evaluate, information_value


def _column(counts: dict[float, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """x and y from a cross-tab {value: (goods, bads)}."""
    x = np.concatenate([np.full(goods + bads, value) for value, (goods, bads) in counts.items()])
    y = np.concatenate([np.r_[np.zeros(goods), np.ones(bads)] for goods, bads in counts.values()])
    return x, y.astype(int)


def test_smoothing_is_half_a_row_per_cell() -> None:
    assert IV_CELL_SMOOTHING == 0.5


def test_binary_equals_the_hand_cross_tab() -> None:
    # x = 1 for 5 % of rows (HMDA `insurance` style): goods 0: 900, 1: 20; bads 0: 50, 1: 30.
    x, y = _column({0.0: (900, 50), 1.0: (20, 30)})
    # by hand, each cell + 0.5: goods 900.5, 20.5 (total 921); bads 50.5, 30.5 (total 81)
    g0, g1, b0, b1 = 900.5 / 921, 20.5 / 921, 50.5 / 81, 30.5 / 81
    expected = (g0 - b0) * math.log(g0 / b0) + (g1 - b1) * math.log(g1 / b1)
    assert expected == pytest.approx(1.1614, abs=1e-4)  # 0.1594 + 1.0020
    assert information_value(x, y) == pytest.approx(expected, rel=1e-12)
    assert information_value(x, y, bins=10) == information_value(x, y, bins=3)  # by value, not quantiles


def test_rare_perfect_separator_is_large_and_finite() -> None:
    # 5 % of rows have x = 1 and all of them are bad: the old quantile bins merged them into x = 0 (IV 0).
    x, y = _column({0.0: (900, 50), 1.0: (0, 50)})
    g0, g1, b0, b1 = 900.5 / 901, 0.5 / 901, 50.5 / 101, 50.5 / 101
    expected = (g0 - b0) * math.log(g0 / b0) + (g1 - b1) * math.log(g1 / b1)
    value = information_value(x, y)
    assert math.isfinite(value) and value > 3 and value == pytest.approx(expected, rel=1e-12)


def test_missing_is_its_own_bin() -> None:
    x, y = _column({2.0: (600, 40), 7.0: (300, 20)})
    x = np.concatenate([x, np.full(40, np.nan)])
    y = np.concatenate([y, np.r_[np.zeros(10), np.ones(30)].astype(int)])
    # values 2 and 7 have the same bad rate: all the information is in the missing bin
    goods, bads = np.array([600, 300, 10]) + 0.5, np.array([40, 20, 30]) + 0.5
    g, b = goods / goods.sum(), bads / bads.sum()
    assert information_value(x, y) == pytest.approx(float(np.sum((g - b) * np.log(g / b))), rel=1e-12)


def test_many_values_use_quantile_bins() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(-1.5 + 1.2 * x)))).astype(int)
    strong = information_value(x, y)
    assert strong > 0.5
    assert information_value(np.exp(x), y) == pytest.approx(strong, rel=1e-9)  # ranks only: monotone-invariant
    assert information_value(rng.normal(size=5000), y) < 0.03  # noise
    # 10 equal-count bins by hand (continuous x: no ties)
    codes = np.searchsorted(np.quantile(x, np.linspace(0, 1, 11)[1:-1]), x, side="right")
    goods = np.bincount(codes[y == 0], minlength=10) + 0.5
    bads = np.bincount(codes[y == 1], minlength=10) + 0.5
    g, b = goods / goods.sum(), bads / bads.sum()
    assert strong == pytest.approx(float(np.sum((g - b) * np.log(g / b))), rel=1e-12)


def test_degenerate_columns_give_zero() -> None:
    y = np.array([0, 1] * 50)
    assert information_value(np.ones(100), y) == 0.0
    assert information_value(np.full(100, np.nan), y) == 0.0
    assert information_value(np.arange(100.0), np.zeros(100, dtype=int)) == 0.0  # one class: undefined → 0


def test_evaluate_reports_iv_per_feature() -> None:
    x, y = _column({0.0: (900, 50), 1.0: (20, 30)})
    p = np.where(x == 1, 0.6, 0.05)
    result = evaluate(y, p, features=np.column_stack([x, np.zeros_like(x)]), feature_names=["flag", "flat"])
    assert result["iv"] == {"flag": pytest.approx(information_value(x, y)), "flat": 0.0}
