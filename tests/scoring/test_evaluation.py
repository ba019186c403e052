"""Statistics with their uncertainty: the DeLong interval against a bootstrap, the paired DeLong
test, the Jeffreys test and the Wilson interval on hand cases, the gains table by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

from lendstack.scoring.evaluation import (
    auc_ci,
    calibration_bands,
    delong,
    evaluate,
    gains_table,
    jeffreys,
    ks,
    paired_auc_difference,
    wilson,
)


def _sample(rows: int, seed: int, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.25).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=rows) + signal * y - 1)))
    return y, np.round(p, 2)  # rounded: ties, which the midranks must handle


def test_delong_auc_equals_sklearn_with_ties() -> None:
    y, p = _sample(700, 1)
    aucs, cov = delong(y, p)
    assert aucs[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert cov.shape == (1, 1) and cov[0, 0] > 0


def test_delong_interval_covers_the_bootstrap() -> None:
    """The DeLong standard error and 95 % interval agree with a 600-resample bootstrap."""
    y, p = _sample(800, 2)
    value, lo, hi = auc_ci(y, p)
    rng = np.random.default_rng(7)
    boot = []
    for _ in range(600):
        rows = rng.integers(0, y.size, y.size)
        boot.append(roc_auc_score(y[rows], p[rows]))
    boot_lo, boot_hi = np.percentile(boot, [2.5, 97.5])
    delong_se = (hi - lo) / (2 * 1.959963984540054)
    assert lo < value < hi
    assert delong_se == pytest.approx(float(np.std(boot)), rel=0.15)
    assert lo == pytest.approx(boot_lo, abs=0.012) and hi == pytest.approx(boot_hi, abs=0.012)


def test_auc_interval_with_one_bad_is_the_whole_range() -> None:
    value, lo, hi = auc_ci([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert (value, lo, hi) == (1.0, 0.0, 1.0)


def test_paired_delong_identical_models_is_zero_without_nan() -> None:
    y, p = _sample(500, 3)
    same = paired_auc_difference(y, p, p)
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0] and same["p_value"] == 1.0
    # a monotone transform ranks every row the same: still no difference and no NaN
    assert paired_auc_difference(y, p, 3 * p + 1)["p_value"] == 1.0


def test_paired_delong_finds_a_real_difference_and_not_a_false_one() -> None:
    y, strong = _sample(1500, 4, signal=1.5)
    rng = np.random.default_rng(5)
    weak = strong + rng.normal(0, 0.4, y.size)  # the same signal blurred by noise
    result = paired_auc_difference(y, strong, weak)
    assert result["difference"] == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    assert result["ci95"][0] > 0 and result["p_value"] < 0.001
    _, cov = delong(y, np.vstack([strong, weak]))
    assert result["se"] == pytest.approx(math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
    slight = strong + rng.normal(0, 1e-3, y.size)  # ranks barely change
    assert paired_auc_difference(y, strong, slight)["p_value"] > 0.05


def test_jeffreys_on_hand_cases() -> None:
    """One loan, no bad: the posterior is Beta(½, 1½), whose CDF is (2/π)(asin √x + √(x(1−x)))."""
    x = 0.3
    one = jeffreys(0, 1, x)
    assert one["p_value"] == pytest.approx(2 / math.pi * (math.asin(math.sqrt(x)) + math.sqrt(x * (1 - x))))
    assert jeffreys(1, 1, x)["p_value"] == pytest.approx(
        1 - 2 / math.pi * (math.asin(math.sqrt(1 - x)) + math.sqrt(x * (1 - x))))
    assert jeffreys(30, 100, 0.10)["flagged"] is True  # 30 % observed against a 10 % PD
    assert jeffreys(12, 100, 0.10)["flagged"] is False  # within the noise
    assert jeffreys(2, 100, 0.10)["flagged"] is False  # too few bads is not "PD too low"
    lo, hi = jeffreys(12, 100, 0.10)["jeffreys_ci95"]
    assert lo < 0.12 < hi
    assert jeffreys(0, 0, 0.1) == {"jeffreys_ci95": [0.0, 1.0], "p_value": 1.0, "flagged": False}


def test_wilson_on_a_hand_case() -> None:
    lo, hi = wilson(0, 10)
    z2 = 1.959963984540054**2
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(z2 / (10 + z2), rel=1e-6)
    assert wilson(0, 0) == [0.0, 1.0]


def test_calibration_bands_flag_an_underestimating_band() -> None:
    rng = np.random.default_rng(6)
    p = rng.uniform(0.02, 0.3, 4000)
    y = (rng.random(4000) < p).astype(int)
    assert not any(row["flagged"] for row in calibration_bands(y, p))
    grades = np.where(p < 0.1, "A", np.where(p < 0.2, "B", "C"))
    y_worse = np.where(grades == "C", (rng.random(4000) < 2 * p).astype(int), y)  # C defaults twice as often
    by_grade = calibration_bands(y_worse, p, grades)
    assert [row["band"] for row in by_grade] == ["A", "B", "C"]
    assert [row["flagged"] for row in by_grade] == [False, False, True]
    assert sum(row["count"] for row in by_grade) == 4000


def test_gains_table_by_hand() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.linspace(0.9, 0.0, 10)  # riskiest first already
    rows = gains_table(y, p, bins=5)
    assert [r["bads"] for r in rows] == [2, 1, 0, 0, 0]
    assert [r["cum_bads_share"] for r in rows] == pytest.approx([2 / 3, 1, 1, 1, 1])
    assert [r["cum_goods_share"] for r in rows] == pytest.approx([0, 1 / 7, 3 / 7, 5 / 7, 1])
    assert rows[0]["lift"] == pytest.approx(1.0 / 0.3)
    assert max(r["ks"] for r in rows) == pytest.approx(ks(y, p))


def test_evaluate_keeps_every_key_and_adds_intervals() -> None:
    y, p = _sample(600, 8)
    result = evaluate(y, p)
    for key in ("auc", "gini", "ks", "brier", "ece", "rows", "bad_rate", "mean_pd", "calibration", "score_bands",
                "score_histogram", "roc", "auc_ci95", "gains", "calibration_bands", "calibration_flagged"):
        assert key in result, key
    lo, hi = result["auc_ci95"]
    assert lo < result["auc"] < hi
    assert sum(row["count"] for row in result["gains"]) == 600


def test_report_shows_model_hash_and_numeric_tables() -> None:
    from lendstack.scoring.report import render_html

    y, p = _sample(500, 9)
    metrics = evaluate(y, p)
    info = {"version": "v0007", "content_sha256": "c0ffee" * 10 + "beef", "kind": "<gbm>"}
    page = render_html("evaluation", metrics, None, model_info=info)
    assert "v0007" in page and info["content_sha256"] in page and "&lt;gbm&gt;" in page
    lo, hi = metrics["auc_ci95"]
    assert f"[{lo:.4f}, {hi:.4f}]" in page
    for caption in ("Calibration by PD decile with the Jeffreys test", "Gains / KS table", "Bad rate by score band"):
        assert caption in page, caption
    first = metrics["gains"][0]
    assert f"<td>{first['cum_bads_share']:.4f}</td>" in page and f"<td>{first['lift']:.4f}</td>" in page
    assert "<script" not in page
    assert "Model 模型" not in render_html("evaluation", metrics, None)  # the positional call still works


def test_evaluate_command_prints_the_interval_and_writes_the_hash(gbm: object, csv_path: object,
                                                                  tmp_path: object) -> None:
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from lendstack.cli.main import app
    from lendstack.scoring import CreditModel, save_artifact

    assert isinstance(gbm, CreditModel) and isinstance(tmp_path, Path)
    manifest = save_artifact(gbm, tmp_path / "m")
    report = tmp_path / "report.html"
    args = ["model", "evaluate", "--model", str(tmp_path / "m"), "--data", str(csv_path), "--target", "target",
            "--bad-value", "bad", "--report", str(report)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    lo, hi = document["auc_ci95"]
    assert lo < document["auc"] < hi and document["model"]["content_sha256"] == manifest["content_sha256"]
    assert manifest["content_sha256"] in report.read_text(encoding="utf-8")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and f"95% CI {lo:.4f}–{hi:.4f}" in result.stdout
