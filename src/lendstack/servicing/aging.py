"""Delinquency: days past due (DPD) → bucket (M0..M7+) and five-tier class (五级分类).

Thresholds are data so a lender can set its own; the defaults are the trade's usual ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray


class FiveTier(StrEnum):
    NORMAL = "normal"  # 正常
    SPECIAL_MENTION = "special_mention"  # 关注
    SUBSTANDARD = "substandard"  # 次级
    DOUBTFUL = "doubtful"  # 可疑
    LOSS = "loss"  # 损失


FIVE_TIER_ZH = {
    FiveTier.NORMAL: "正常",
    FiveTier.SPECIAL_MENTION: "关注",
    FiveTier.SUBSTANDARD: "次级",
    FiveTier.DOUBTFUL: "可疑",
    FiveTier.LOSS: "损失",
}
FIVE_TIERS = tuple(FiveTier)
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")


@dataclass(frozen=True, slots=True)
class AgingPolicy:
    # Upper DPD bound (inclusive) of M0..M6; anything above the last is M7+.
    bucket_upper_dpd: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 180)
    # Lowest DPD of 关注, 次级, 可疑, 损失 (正常 below the first).
    class_lower_dpd: tuple[int, ...] = (1, 91, 271, 361)

    def __post_init__(self) -> None:
        assert len(self.bucket_upper_dpd) == len(BUCKETS) - 1
        assert len(self.class_lower_dpd) == len(FIVE_TIERS) - 1
        assert list(self.bucket_upper_dpd) == sorted(set(self.bucket_upper_dpd))
        assert list(self.class_lower_dpd) == sorted(set(self.class_lower_dpd))
        assert self.bucket_upper_dpd[0] == 0 and self.class_lower_dpd[0] >= 1

    def bucket(self, days_past_due: int) -> str:
        assert days_past_due >= 0
        return BUCKETS[int(np.searchsorted(self.bucket_upper_dpd, days_past_due, side="left"))]

    def five_tier(self, days_past_due: int) -> FiveTier:
        assert days_past_due >= 0
        return FIVE_TIERS[int(np.searchsorted(self.class_lower_dpd, days_past_due, side="right"))]

    def bucket_index_array(self, dpd: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.searchsorted(np.asarray(self.bucket_upper_dpd), dpd, side="left").astype(np.int64)

    def five_tier_index_array(self, dpd: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.searchsorted(np.asarray(self.class_lower_dpd), dpd, side="right").astype(np.int64)


DEFAULT_AGING = AgingPolicy()
