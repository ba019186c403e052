"""A small, fast GBM on simulated applications (session-wide) and helpers for decision tests."""

from __future__ import annotations

import polars as pl
import pytest

from lendstack.decisioning import ScoringModel
from lendstack.scoring import TrainOptions
from lendstack.services.models import train_default_model
from lendstack.sim import generate_applications

FAST_GBM = {"n_estimators": 120, "learning_rate": 0.1, "early_stopping_rounds": 20}


@pytest.fixture(scope="session")
def small_model() -> ScoringModel:
    credit = train_default_model(rows=3000, seed=5, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM))
    return ScoringModel(credit, "test-v1", "0" * 64)


@pytest.fixture(scope="session")
def sample() -> pl.DataFrame:
    return generate_applications(600, seed=21)
