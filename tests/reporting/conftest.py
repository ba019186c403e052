"""Report fixtures: one small registry model per session, one real book per backend per session
(the book takes seconds to build; the report tests only read it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstack.scoring import TrainOptions
from lendstack.services.models import ensure_default_model
from tests.conftest import BACKENDS, _postgres_engine, _sqlite_engine
from tests.reporting.book import BookFacts, build_book

FAST_GBM = {"n_estimators": 40, "learning_rate": 0.2, "early_stopping_rounds": 10}


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=1500)
    return root


@pytest.fixture(scope="session", params=BACKENDS)
def book(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, registry: Path
         ) -> Iterator[BookFacts]:
    engines = (_sqlite_engine(tmp_path_factory.mktemp("book")) if request.param == "sqlite"
               else _postgres_engine(request))
    engine = next(engines)
    try:
        yield build_book(engine, registry)
    finally:
        engines.close()
