"""Small synthetic credit data with a planted driver, yes/no strings, categories and missing values."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lendstack.scoring import CreditModel, TrainOptions, train_credit_model

warnings.filterwarnings("ignore", module="cvxpy")
SERIAL = {"n_jobs": 1}  # tests run in parallel workers: one LightGBM thread each (2 oversubscribe 2 cores)


def make_frame(rows: int = 1500, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    debt = rng.uniform(0, 1, rows)  # the planted driver: PD rises steeply with debt_ratio
    income = rng.lognormal(8, 0.5, rows)
    owns = rng.choice(["yes", "no"], rows)
    segment = rng.choice(["retail", "farming", "ride-hailing", "restaurant"], rows)
    z = -3.0 + 5.0 * debt - 0.4 * (owns == "yes") + np.where(segment == "ride-hailing", 0.6, 0.0)
    bad = rng.random(rows) < 1 / (1 + np.exp(-z))
    income_shown = [None if rng.random() < 0.1 else float(v) for v in income]
    return pl.DataFrame({
        "income": income_shown, "debt_ratio": debt, "owns_home": owns, "segment": segment,
        "noise": rng.normal(size=rows), "target": np.where(bad, "bad", "good"),
    })


@pytest.fixture(scope="session")
def frame() -> pl.DataFrame:
    return make_frame()


@pytest.fixture(scope="session")
def gbm(frame: pl.DataFrame) -> CreditModel:
    credit, _ = train_credit_model(frame, "target", TrainOptions(kind="gbm", bad_value="bad",
                                                                 monotone={"debt_ratio": 1}, gbm_params=SERIAL))
    return credit


@pytest.fixture(scope="session")
def scorecard(frame: pl.DataFrame) -> CreditModel:
    credit, _ = train_credit_model(frame, "target", TrainOptions(kind="scorecard", bad_value="bad",
                                                                 monotone={"debt_ratio": 1}))
    return credit


@pytest.fixture()
def csv_path(tmp_path: Path, frame: pl.DataFrame) -> Path:
    path = tmp_path / "apps.csv"
    frame.write_csv(path)
    return path
