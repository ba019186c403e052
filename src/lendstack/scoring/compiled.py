"""A LightGBM forest flattened into arrays, for sub-millisecond scoring of one application and
fast batch scoring.

LightGBM's Python `predict` costs 0.1–0.3 ms of call overhead per call, whatever the row count,
and its batch predict walks ~30 M trees/s per core. Here every node of every tree lives in flat
arrays (a leaf points to itself) and one kernel walks them, compiled by numba (a dependency of
shap, so always installed) on first use and cached on disk: one row per call online, rows in
parallel for a batch, the SAME per-row code in both, so online and batch scores are bit-identical and trees are
summed in LightGBM's order. Without numba, a NumPy walk of all trees at once for `max_depth`
steps does the same. The raw score equals LightGBM's to 1e-9 (tested).
Only numerical splits ("<=") are supported: the feature pipeline encodes categoricals as codes.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2  # the same codes as forest_kernel's
_MISSING_CODES = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}
_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
_NUMPY_CHUNK = 4096
_PARALLEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class CompiledForest:
    feature: IntArray
    threshold: FloatArray
    default_left: npt.NDArray[np.bool_]
    missing: npt.NDArray[np.int8]
    left: IntArray
    right: IntArray
    value: FloatArray
    roots: IntArray
    depth: int

    @classmethod
    def from_booster(cls, booster: Any) -> CompiledForest:
        builder = _Builder()
        trees = booster.dump_model()["tree_info"]
        roots = [builder.add(tree["tree_structure"], 0) for tree in trees]
        return builder.freeze(np.asarray(roots, dtype=np.int64))

    def raw_one(self, x: FloatArray) -> float:
        """Raw score (log-odds) of one feature vector."""
        kernels = _kernels()
        if kernels is None:
            return float(self.raw_batch_numpy(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])
        return float(kernels[0](np.ascontiguousarray(x, dtype=np.float64), *self._arrays()))

    def raw_batch(self, X: FloatArray) -> FloatArray:
        """Raw scores of a (rows × features) matrix, rows in parallel (numba) or in NumPy chunks."""
        matrix = np.ascontiguousarray(X, dtype=np.float64)
        kernels = _kernels()
        if kernels is None:
            chunks = [self.raw_batch_numpy(matrix[i:i + _NUMPY_CHUNK]) for i in range(0, len(matrix), _NUMPY_CHUNK)]
            return np.concatenate(chunks) if chunks else np.empty(0)
        out = np.empty(matrix.shape[0], dtype=np.float64)
        with _PARALLEL_LOCK:  # numba's fallback "workqueue" threading layer must not be entered twice at once
            kernels[1](matrix, *self._arrays(), out)
        return out

    def arrays(self) -> tuple[Any, ...]:
        """The flat arrays in the kernels' argument order."""
        return self._arrays()

    def _arrays(self) -> tuple[Any, ...]:
        return (self.feature, self.threshold, self.default_left, self.missing, self.left, self.right, self.value,
                self.roots)

    def raw_batch_numpy(self, X: FloatArray) -> FloatArray:
        """The NumPy walk (memory ∝ rows × trees: chunk big batches)."""
        node = np.broadcast_to(self.roots, (X.shape[0], self.roots.size)).copy()
        rows = np.arange(X.shape[0])[:, None]
        for _ in range(self.depth):
            node = self._step(X[rows, self.feature[node]], node)
        return np.asarray(self.value[node].sum(axis=1), dtype=np.float64)

    def _step(self, v: FloatArray, node: IntArray) -> IntArray:
        missing = self.missing[node]
        nan = np.isnan(v)
        v0 = np.where(nan & (missing != _MISSING_NAN), 0.0, v)
        use_default = ((missing == _MISSING_ZERO) & (np.abs(v0) <= _ZERO_THRESHOLD)) | (
            (missing == _MISSING_NAN) & nan
        )
        go_left = np.where(use_default, self.default_left[node], v0 <= self.threshold[node])
        return np.where(go_left, self.left[node], self.right[node])


class _Builder:
    def __init__(self) -> None:
        self.rows: list[tuple[int, float, bool, int, int, int, float]] = []
        self.depth = 0

    def add(self, node: dict[str, Any], depth: int) -> int:
        index = len(self.rows)
        self.depth = max(self.depth, depth)
        if "leaf_value" in node or "split_index" not in node:
            self.rows.append((0, np.inf, True, _MISSING_NONE, index, index, float(node.get("leaf_value", 0.0))))
            return index
        assert node["decision_type"] == "<=", f"unsupported split {node['decision_type']!r} (categorical?)"
        self.rows.append((0, 0.0, False, 0, -1, -1, 0.0))  # placeholder until the children exist
        left = self.add(node["left_child"], depth + 1)
        right = self.add(node["right_child"], depth + 1)
        self.rows[index] = (
            int(node["split_feature"]), float(node["threshold"]), bool(node["default_left"]),
            _MISSING_CODES[node["missing_type"]], left, right, 0.0,
        )
        return index

    def freeze(self, roots: IntArray) -> CompiledForest:
        columns = list(zip(*self.rows, strict=True))
        return CompiledForest(
            feature=np.asarray(columns[0], dtype=np.int64),
            threshold=np.asarray(columns[1], dtype=np.float64),
            default_left=np.asarray(columns[2], dtype=np.bool_),
            missing=np.asarray(columns[3], dtype=np.int8),
            left=np.asarray(columns[4], dtype=np.int64),
            right=np.asarray(columns[5], dtype=np.int64),
            value=np.asarray(columns[6], dtype=np.float64),
            roots=roots,
            depth=self.depth,
        )


@functools.cache
def _kernels() -> tuple[Any, Any] | None:
    """The numba kernels (one row, many rows in parallel), or None without numba."""
    try:
        from lendstack.scoring import forest_kernel
    except (ImportError, RuntimeError, OSError):  # pragma: no cover - no numba, or no usable cache dir
        return None
    return forest_kernel.raw_one, forest_kernel.raw_many


def path_sides_kernel() -> Any | None:
    """The numba kernel of per-feature path attributions split by side (forest_kernel.path_sides), or None."""
    kernels = _kernels()
    if kernels is None:
        return None
    from lendstack.scoring import forest_kernel

    return forest_kernel.path_sides
