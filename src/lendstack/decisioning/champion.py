"""Champion / challenger: a configurable share of applications goes to the challenger, chosen
deterministically from a hash of the application id (the same id always lands in the same arm);
in shadow mode both are decided and the champion's decision is the one acted on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lendstack.decisioning.types import Decision

Arm = Literal["champion", "challenger"]
Mode = Literal["split", "shadow"]
_BUCKETS = 10_000


@dataclass(frozen=True)
class Experiment:
    name: str
    challenger_share: float  # 0..1 of traffic decided by the challenger (split mode)
    mode: Mode = "split"
    salt: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.challenger_share <= 1.0:
            raise ValueError(f"challenger_share: must be within [0, 1], got {self.challenger_share}")
        if self.mode not in ("split", "shadow"):
            raise ValueError(f"mode: must be split or shadow, got {self.mode!r}")


def bucket_of(application_id: str, salt: str = "") -> int:
    digest = hashlib.sha256(f"{salt}:{application_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS


def assign(experiment: Experiment, application_id: str) -> Arm:
    """The arm that decides (acts on) this application."""
    if experiment.mode == "shadow":
        return "champion"
    threshold = round(experiment.challenger_share * _BUCKETS)
    return "challenger" if bucket_of(application_id, experiment.salt or experiment.name) < threshold else "champion"


def compare(pairs: Iterable[tuple[Decision, Decision]]) -> dict[str, object]:
    """Comparison of champion and challenger decisions of the same applications."""
    items = list(pairs)
    matrix = {a: dict.fromkeys(("approve", "refer", "decline"), 0) for a in ("approve", "refer", "decline")}
    for champion, challenger in items:
        matrix[champion.outcome][challenger.outcome] += 1
    return {"applications": len(items), "champion": _arm([c for c, _ in items]),
            "challenger": _arm([c for _, c in items]), "disagreement": matrix,
            "disagreement_rate": sum(c.outcome != d.outcome for c, d in items) / len(items) if items else 0.0}


def _arm(decisions: Sequence[Decision]) -> dict[str, float]:
    n = len(decisions)
    approved = [d for d in decisions if d.outcome == "approve"]
    return {
        "approval_rate": len(approved) / n if n else 0.0,
        "refer_rate": sum(d.outcome == "refer" for d in decisions) / n if n else 0.0,
        "avg_pd": sum(d.pd for d in decisions) / n if n else 0.0,
        "avg_rate_annual_approved": float(sum(d.rate_annual for d in approved) / len(approved)) if approved else 0.0,
    }
