"""Random streams and vectorised sampling helpers shared by the generator's stages."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lendstack.sim.tables import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# One independent stream per stage, so adding a draw to one stage leaves every other stage's data
# unchanged for the same seed. Append new names at the end: the position is the spawn key.
_STREAMS = (
    "population",
    "rings",
    "bureau",
    "revenue",
    "declared",
    "telematics",
    "device",
    "identity",
    "outcome",
    "packaging",
)
BEHAVIOUR_STREAM = 1_000  # monthly_payment_behaviour has its own seed argument and stream


def stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS.index(name),)))


def categorical(rng: np.random.Generator, probs: FloatArray, groups: IntArray | None = None, n: int = 0) -> IntArray:
    """Draw category codes: from one distribution `probs` (K,), or per row from `probs[groups]` (G, K).

    Loops over the K categories, never over rows.
    """
    table = probs.reshape(1, -1) if probs.ndim == 1 else probs
    rows = n if groups is None else len(groups)
    group_index = np.zeros(rows, dtype=np.int64) if groups is None else groups
    cumulative = np.cumsum(table, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding leaving a sliver above the last category
    uniform = rng.random(rows)
    codes = np.zeros(rows, dtype=np.int64)
    for k in range(table.shape[1] - 1):
        codes += uniform >= cumulative[group_index, k]
    return codes


def categorical_rows(rng: np.random.Generator, probs_by_row: FloatArray) -> IntArray:
    """Draw one code per row from a row-specific distribution (n, K); rows need not be normalised."""
    cumulative = np.cumsum(probs_by_row, axis=1)
    uniform = rng.random(len(probs_by_row)) * cumulative[:, -1]
    codes: IntArray = (uniform[:, None] >= cumulative[:, :-1]).sum(axis=1).astype(np.int64)
    return codes


def sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return result


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def lognormal_unit_mean(rng: np.random.Generator, sigma: FloatArray | float, size: int | tuple[int, ...]) -> FloatArray:
    """Multiplicative noise with mean 1, so it spreads values without moving their level."""
    sigma_array = np.asarray(sigma, dtype=np.float64)
    result: FloatArray = np.exp(sigma_array * rng.standard_normal(size) - 0.5 * sigma_array**2)
    return result
