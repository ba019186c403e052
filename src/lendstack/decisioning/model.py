"""The model a decision uses: a CreditModel with its registry version and content hash, the fast
one-row PD (compiled forest) and fast reason codes.

Reason codes online: LightGBM's TreeSHAP costs ~10 ms per row, too slow for a 5 ms p99, so the
online path attributes the raw score along each tree's decision path (Saabas: the change in the
node's expected value at every split goes to the split's feature, booked to the side the value
took, so the reason says "high" or "low" as the model does; `scoring.explain.PathExplainer`). Like
SHAP it sums exactly to the raw score minus the forest's base value (asserted); it names the same
adverse drivers in practice. Scorecards use their own points lost against the best bin. The texts
use the model's data dictionary (the engine's default model carries the simulator's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lendstack.scoring import CreditModel
from lendstack.scoring.explain import Explainer, PathExplainer, Reason

FloatArray = npt.NDArray[np.float64]
REASONS_MAX = 16  # a decision lists a handful of reasons; bounds the policy's model_reasons_max

__all__ = ["REASONS_MAX", "PathExplainer", "ScoringModel"]


@dataclass(frozen=True)
class ScoringModel:
    """A credit model as the decision engine sees it."""

    credit: CreditModel
    version: str
    content_hash: str
    _explainer: list[Explainer] = field(default_factory=list, compare=False, repr=False)

    def pd_one(self, features: dict[str, Any]) -> float:
        pd = self.credit.predict_pd_one(features)
        return min(max(pd, 0.0), 1.0)

    def pd_batch(self, frame: pl.DataFrame) -> FloatArray:
        return np.clip(self.credit.predict_pd(frame), 0.0, 1.0)

    def explainer(self) -> Explainer:
        """Built once per model (the forest's node values, or the scorecard's bins) and kept."""
        if not self._explainer:
            self._explainer.append(Explainer.of(self.credit))
        return self._explainer[0]

    def reasons(self, features: dict[str, Any], k: int) -> list[Reason]:
        assert 0 <= k <= REASONS_MAX, f"between 0 and {REASONS_MAX} reasons"
        if k == 0:
            return []
        x = self.credit.pipeline.transform_row(features)
        explainer = self.explainer()
        if self.credit.kind != "gbm":
            impacts, names = self.credit.impacts(x.reshape(1, -1))
            return explainer.reasons(x, impacts[0], names, k)
        return explainer.online(x, k)
