"""One medium frame shared by the simulator tests (generated once per session: ~0.5 s)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from lendstack.sim import generate_applications

N_ROWS = 60_000
SEED = 11


@pytest.fixture(scope="session")
def frame() -> pl.DataFrame:
    return generate_applications(N_ROWS, SEED)


def auc(score: npt.NDArray[np.float64], label: npt.NDArray[np.int64]) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U); ties are rare enough to ignore here."""
    ranks = np.argsort(np.argsort(score)) + 1
    positives = int(label.sum())
    negatives = len(label) - positives
    return float((ranks[label == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
