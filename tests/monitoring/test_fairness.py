"""Fairness audit: metrics against hand computations, interval sanity, inputs naming the column."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lendstack.monitoring.fairness import AuditColumns, FairnessInputError, audit, wilson


def _rows(group: str, n: int, approved: int, approved_bad: int, declined_bad: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        ok = i < approved
        bad = (i < approved_bad) if ok else (i - approved < declined_bad)
        rows.append({"g": group, "d": "approve" if ok else "decline", "y": int(bad), "rate": 0.10 if ok else None})
    return rows


# A: 100 rows, 60 approved (6 bad), 40 declined (20 bad). B: 50 rows, 20 approved (4 bad), 30 declined (10 bad).
FRAME = pl.DataFrame(_rows("A", 100, 60, 6, 20) + _rows("B", 50, 20, 4, 10))
COLS = AuditColumns(decision="d", group="g", outcome="y", price="rate")


def test_metrics_match_hand_computations() -> None:
    report = audit(FRAME, COLS)
    assert report["reference_group"] == "A"  # the largest group
    a, b = report["groups"]
    assert (a["approval_rate"], b["approval_rate"]) == (0.6, 0.4)
    assert b["disparate_impact"] == pytest.approx(0.4 / 0.6) and b["four_fifths_flag"]
    assert report["flagged_groups"] == ["B"]
    assert (a["bad_rate_approved"], b["bad_rate_approved"]) == (0.1, 0.2)
    # goods: A 54 approved of 74 goods; B 16 approved of 36 goods.
    assert a["true_positive_rate"] == pytest.approx(54 / 74) and b["true_positive_rate"] == pytest.approx(16 / 36)
    assert b["equal_opportunity_difference"] == pytest.approx(16 / 36 - 54 / 74)
    assert a["price_mean"] == pytest.approx(0.10) and a["priced"] == 60


def test_intervals_bracket_estimates_and_are_seeded() -> None:
    first, second = audit(FRAME, COLS, seed=3), audit(FRAME, COLS, seed=3)
    assert first == second
    b = first["groups"][1]
    low, high = b["disparate_impact_ci95"]
    assert low < b["disparate_impact"] < high
    low, high = b["equal_opportunity_difference_ci95"]
    assert low < b["equal_opportunity_difference"] < high
    low, high = b["approval_rate_ci95"]
    assert low < 0.4 < high


def test_wilson_known_value_and_coverage() -> None:
    low, high = wilson(20, 50)
    assert (round(low, 4), round(high, 4)) == (0.2761, 0.5382)
    rng = np.random.default_rng(1)
    hits = [lo <= 0.3 <= hi for lo, hi in (wilson(int(k), 50) for k in rng.binomial(50, 0.3, 2000))]
    assert 0.92 <= sum(hits) / len(hits) <= 0.98


def test_reference_group_and_positive_decision_options() -> None:
    report = audit(FRAME, AuditColumns(decision="d", group="g", positive_decision="decline", reference_group="B"))
    a = report["groups"][0]
    assert report["reference_group"] == "B" and a["approval_rate"] == 0.4
    assert "bad_rate_approved" not in a


def test_small_groups_warn() -> None:
    small = pl.concat([FRAME, pl.DataFrame(_rows("C", 5, 2, 0, 1))])
    report = audit(small, COLS)
    assert any("'C'" in w for w in report["warnings"])


@pytest.mark.parametrize(("frame", "cols", "field"), [
    (FRAME, AuditColumns(decision="nope", group="g"), "nope"),
    (FRAME, AuditColumns(decision="d", group="sex"), "sex"),
    (FRAME.with_columns(pl.Series("d", ["a", "b", "c"] * 50)), AuditColumns(decision="d", group="g"), "d"),
    (FRAME.with_columns(pl.Series("y", [2] * 150)), AuditColumns(decision="d", group="g", outcome="y"), "y"),
    (FRAME, AuditColumns(decision="d", group="g", reference_group="Z"), "reference_group"),
])
def test_bad_inputs_name_the_column(frame: pl.DataFrame, cols: AuditColumns, field: str) -> None:
    with pytest.raises(FairnessInputError) as caught:
        audit(frame, cols)
    assert caught.value.field == field
