"""The credit model decisions use: the registry's champion, trained on the simulator if the
registry has none (20,000 applications, seed 11, GBM, target default_12m, the simulator's monotone
directions, its data dictionary for readable reason codes), cached per process."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lendstack.decisioning import ScoringModel
from lendstack.errors import ErrorKind, LendstackError
from lendstack.events import DomainEvent
from lendstack.scoring import ArtifactError, CreditModel, Registry, TrainOptions, load_artifact, train_credit_model
from lendstack.scoring.dictionary import attach_dictionary, sim_dictionary
from lendstack.scoring.registry import CHAMPION_FILE, read_manifest
from lendstack.sim import FIELDS, generate_applications
from lendstack.store import Engine, UnitOfWork

TRAIN_ROWS = 20_000
TRAIN_SEED = 11
TARGET = "default_12m"
# The directions the simulator's default hazard really has (sim/outcomes.py `log_odds`, and through the
# latent creditworthiness z in sim/bureau.py, flows.py, signals.py), each holding with the other
# features fixed: +1 = PD rises with the value. Left out on purpose: age (U-shaped), amounts that
# scale with the segment's income (requested amount, revenue), counts with no effect on the hazard.
SIM_MONOTONE: dict[str, int] = {
    "debt_to_income": +1,  # 0.3·DTI + a hinge above 60 %, and DTI falls with z
    "inquiries_6m": +1,  # 0.06 per inquiry
    "open_loans_elsewhere": +1,  # log1p(loans) + the five-lender cliff
    "past_delinquencies_24m": +1,  # 0.35 each, capped at three (flat after: still non-decreasing)
    "revenue_volatility": +1,  # the revenue CV above 0.30 (packaging scales a row, not its CV)
    "night_driving_share": +1,  # a hinge above 35 % night driving
    "requested_term_months": +1,  # 0.10·log(term / 12)
    "device_changes_90d": +1,  # rise as z falls; fraud rings change devices
    "monthly_income_minor": -1,  # rises with z within a segment, region and age
    "bureau_score": -1,  # 0.75·z + noise
    "tax_filing_months": -1,  # a business filing under 12 months adds 0.35; longer with z
    "mileage_km_30d": -1,  # an idle vehicle (under half the segment's mileage) adds 0.5
    "device_age_days": -1,  # rings use devices under a month old; older with z
}
_CACHE: dict[tuple[str, str], ScoringModel] = {}
_CHAMPIONS: dict[str, tuple[tuple[int, int, int], str]] = {}  # registry root → (pointer stamp, champion)
_CHAMPIONS_MAX = 256


def default_registry_dir() -> Path:
    return Path(os.environ.get("LENDSTACK_MODEL_REGISTRY", ".lendstack/models"))


def feature_columns() -> list[str]:
    return [name for name, doc in FIELDS.items() if doc.role == "feature"]


def train_default_model(rows: int = TRAIN_ROWS, seed: int = TRAIN_SEED, options: TrainOptions | None = None,
                        progress: Callable[[str], None] | None = None) -> CreditModel:
    """The engine's model on simulated applications: the simulator's monotone directions unless the
    options give their own, and the simulator's dictionary, so reasons read "月收入偏低（5,702.00 元）"."""
    frame = generate_applications(rows, seed=seed).select([*feature_columns(), TARGET])
    chosen = options or TrainOptions(kind="gbm", seed=seed)
    if not chosen.monotone:
        chosen = replace(chosen, monotone=dict(SIM_MONOTONE))
    credit, _notes = train_credit_model(frame, TARGET, chosen, progress)
    attach_dictionary(credit, sim_dictionary(FIELDS))
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
        version = _champion(root, progress)
    key = (str(root), version)
    if key not in _CACHE:
        credit = registry.load(version)
        manifest = read_manifest(registry.path(version))
        _CACHE[key] = ScoringModel(credit, version, str(manifest["content_sha256"]))
    return _CACHE[key]


def _champion(root: Path, progress: Callable[[str], None] | None) -> str:
    """The champion's version. The decision endpoint asks on every request, and a promotion by another
    process must count from its next request: so one stat of the pointer file per call, and the file
    is read again only when its stamp (inode, mtime, size) moved. The stamp is taken BEFORE the read:
    a write racing the read changes the stamp, and the next call reads again."""
    stamp = _stamp(root / CHAMPION_FILE)
    cached = _CHAMPIONS.get(str(root))
    if stamp is not None and cached is not None and cached[0] == stamp:
        return cached[1]
    registry = Registry(root)
    if registry.champion() is None:  # ensure_default_model loads (and hash-checks) the model: only when new
        ensure_default_model(root, progress)
    version = str(registry.champion())
    if stamp is not None:
        if len(_CHAMPIONS) >= _CHAMPIONS_MAX:  # bounded: a process sees a handful of registries (tests: many)
            _CHAMPIONS.clear()
        _CHAMPIONS[str(root)] = (stamp, version)
    return version


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


# --------------------------------------------------------------------------- promotion

# One promotion at a time per process: the champion pointer is read, changed and rewritten. The API and
# the console both come through here, so they cannot interleave.
_REGISTRY_LOCK = threading.Lock()
VERSION_NAME = re.compile(r"v[0-9]{1,8}")


class ModelChangeError(LendstackError):
    """A refused promotion or rollback: `kind` is not_found | conflict | invalid; `field` names the input.

    Its text is the message alone (not "field: message"): the API's problem detail and the console
    show it as it always was."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        chosen = ErrorKind(kind)
        if chosen not in (ErrorKind.NOT_FOUND, ErrorKind.CONFLICT, ErrorKind.INVALID):
            raise ValueError(f"a model change is refused as not_found, conflict or invalid, not {kind!r}")
        super().__init__(field, message, kind=chosen)
        self.args = (message,)


@dataclass(frozen=True, slots=True)
class ModelChange:
    """A promotion or rollback done: the champion now, the one before, and why."""

    champion: str
    previous: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"champion": self.champion, "previous": self.previous, "reason": self.reason}


def promote_model(engine: Engine, registry_dir: str | Path, version: str, *, actor: dict[str, str],
                  reason: str = "") -> ModelChange:
    """Make a verified registry version the champion and record a `model.promoted` event naming who and why.
    Every file's hash is verified first: a tampered artifact never becomes champion."""
    if not VERSION_NAME.fullmatch(version):  # the registry's own names; keeps every path inside it
        raise ModelChangeError("not_found", "version", f"no model version {version!r}")
    registry = Registry(registry_dir)
    with _REGISTRY_LOCK:
        try:
            folder = registry.path(version)
        except ArtifactError:
            raise ModelChangeError("not_found", "version", f"no model version {version!r}") from None
        previous = registry.champion()
        if previous == version:
            raise ModelChangeError("conflict", "version", f"{version} is already the champion")
        try:
            load_artifact(folder)
        except ArtifactError as exc:
            raise ModelChangeError("invalid", "version", str(exc)) from exc
        registry.promote(version)
    _record_change(engine, "model.promoted", version, previous, reason, actor)
    return ModelChange(version, previous, reason)


def rollback_model(engine: Engine, registry_dir: str | Path, *, actor: dict[str, str],
                   reason: str = "") -> ModelChange:
    """Make the previous champion the champion again; records a `model.rolled_back` event."""
    registry = Registry(registry_dir)
    with _REGISTRY_LOCK:
        previous = registry.champion()
        try:
            champion = registry.rollback()
        except ArtifactError as exc:
            raise ModelChangeError("conflict", "champion", "no earlier champion to roll back to") from exc
    _record_change(engine, "model.rolled_back", champion, previous, reason, actor)
    return ModelChange(champion, previous, reason)


def _record_change(engine: Engine, event_type: str, version: str, previous: str | None, reason: str,
                   actor: dict[str, str]) -> None:
    # The champion pointer is a file and changed first; if this write failed, the caller's audit row
    # (API or console guard) still names the call.
    event = DomainEvent.new(event_type, "model", version,
                            {"champion": version, "previous": previous, "reason": reason, **actor})
    with UnitOfWork(engine) as uow:
        uow.outbox.add(event)
