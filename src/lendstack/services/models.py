"""The credit model decisions use: the registry's champion, trained on the simulator if the
registry has none (20,000 applications, seed 11, GBM, target default_12m), cached per process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lendstack.decisioning import ScoringModel
from lendstack.scoring import CreditModel, Registry, TrainOptions, train_credit_model
from lendstack.scoring.registry import read_manifest
from lendstack.sim import FIELDS, generate_applications

TRAIN_ROWS = 20_000
TRAIN_SEED = 11
TARGET = "default_12m"
_CACHE: dict[tuple[str, str], ScoringModel] = {}


def default_registry_dir() -> Path:
    return Path(os.environ.get("LENDSTACK_MODEL_REGISTRY", ".lendstack/models"))


def feature_columns() -> list[str]:
    return [name for name, doc in FIELDS.items() if doc.role == "feature"]


def train_default_model(rows: int = TRAIN_ROWS, seed: int = TRAIN_SEED, options: TrainOptions | None = None,
                        progress: Callable[[str], None] | None = None) -> CreditModel:
    frame = generate_applications(rows, seed=seed).select([*feature_columns(), TARGET])
    credit, _notes = train_credit_model(frame, TARGET, options or TrainOptions(kind="gbm", seed=seed), progress)
    return credit


def ensure_default_model(registry_dir: str | Path | None = None, progress: Callable[[str], None] | None = None,
                         options: TrainOptions | None = None, rows: int = TRAIN_ROWS) -> CreditModel:
    """The champion of the registry; trains, saves and promotes the default model first if there is none."""
    registry = Registry(registry_dir or default_registry_dir())
    if registry.champion() is None:
        version = registry.save(train_default_model(rows=rows, options=options, progress=progress))
        registry.promote(version)
    return registry.load()


def scoring_model(registry_dir: str | Path | None = None, version: str = "champion",
                  progress: Callable[[str], None] | None = None) -> ScoringModel:
    """A registry model as the decision engine's `ScoringModel` (version + content hash), cached."""
    root = Path(registry_dir or default_registry_dir())
    registry = Registry(root)
    if version == "champion":
        ensure_default_model(root, progress)
        version = str(registry.champion())
    key = (str(root.resolve()), version)
    if key not in _CACHE:
        credit = registry.load(version)
        manifest = read_manifest(registry.path(version))
        _CACHE[key] = ScoringModel(credit, version, str(manifest["content_sha256"]))
    return _CACHE[key]
