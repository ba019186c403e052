"""numba kernels that walk a `CompiledForest`'s flat arrays (imported by `compiled` when numba is
installed; it comes with shap). `raw_one` scores one row, `raw_many` rows in parallel; both call
the same `_walk`, so a row scores bit-identically online and in a batch. Compiled on first use
and cached on disk (`cache=True`).
"""

from __future__ import annotations

from typing import Any

import numba  # type: ignore[import-untyped]
import numpy as np

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold


@numba.njit(cache=True, inline="always")  # type: ignore[untyped-decorator]
def _next(x: Any, node: int, feature: Any, threshold: Any, default_left: Any, missing: Any, left: Any,
          right: Any) -> int:
    """LightGBM's NumericalDecision at one split node: the child the row goes to."""
    v = x[feature[node]]
    kind = missing[node]
    is_nan = np.isnan(v)
    if is_nan and kind != MISSING_NAN:
        v = 0.0
    if (kind == MISSING_ZERO and abs(v) <= ZERO_THRESHOLD) or (kind == MISSING_NAN and is_nan):
        go_left = default_left[node]
    else:
        go_left = v <= threshold[node]
    return left[node] if go_left else right[node]  # type: ignore[no-any-return]


@numba.njit(cache=True, inline="always")  # type: ignore[untyped-decorator]
def _walk(x: Any, feature: Any, threshold: Any, default_left: Any, missing: Any, left: Any, right: Any,
          value: Any, roots: Any) -> float:
    """Down every tree; leaves summed in tree order, as LightGBM does."""
    total = 0.0
    for tree in range(roots.size):
        node = roots[tree]
        while left[node] != node:  # a leaf points to itself
            node = _next(x, node, feature, threshold, default_left, missing, left, right)
        total += value[node]
    return total


@numba.njit(cache=True)  # type: ignore[untyped-decorator]
def raw_one(x: Any, feature: Any, threshold: Any, default_left: Any, missing: Any, left: Any, right: Any,
            value: Any, roots: Any) -> float:
    return _walk(x, feature, threshold, default_left, missing, left, right, value, roots)  # type: ignore[no-any-return]


@numba.njit(cache=True, parallel=True)  # type: ignore[untyped-decorator]
def raw_many(X: Any, feature: Any, threshold: Any, default_left: Any, missing: Any, left: Any, right: Any,
             value: Any, roots: Any, out: Any) -> None:
    for row in numba.prange(X.shape[0]):
        out[row] = _walk(X[row], feature, threshold, default_left, missing, left, right, value, roots)


@numba.njit(cache=True)  # type: ignore[untyped-decorator]
def path_sides(x: Any, feature: Any, threshold: Any, default_left: Any, missing: Any, left: Any, right: Any,
               value: Any, roots: Any, node_value: Any, low: Any, high: Any) -> None:
    """Per-feature attributions of one row (Saabas): along each tree's path, the change in the
    expected value at every split goes to the split's feature, booked by the side the row took: into
    `low` when it went left (value ≤ threshold, or a missing value's default left), else `high`.
    Adds into `low` and `high` (one slot per feature each); for reason codes that say which way."""
    for tree in range(roots.size):
        node = roots[tree]
        while left[node] != node:
            following = _next(x, node, feature, threshold, default_left, missing, left, right)
            if following == left[node]:
                low[feature[node]] += node_value[following] - node_value[node]
            else:
                high[feature[node]] += node_value[following] - node_value[node]
            node = following
