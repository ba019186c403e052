"""Delinquency: days past due (DPD) → bucket (M0..M7+) and five-tier class (五级分类); when a loan
stops and resumes accruing income (停止计息); how a restructured loan is classified and observed.

Thresholds are data so a lender can set its own; the defaults are the trade's usual ones and the
2023 rule on the risk classification of financial assets (商业银行金融资产风险分类办法):
- a restructured loan is at least 关注, at least 次级 if it was non-performing (次级 or worse) before;
- it stays so through an observation period that starts on the first due date after the
  restructure and covers at least two due dates and at least a year (365 days);
- arrears during the observation put it at least 次级 and start the observation again once cured;
- an observation met with no arrears lifts the floor: the class follows DPD again.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from lendstack.invariants import check

if TYPE_CHECKING:  # NumPy (~130 ms) loads only for the batch (array) forms: `loan show` needs neither
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
PERFORMING_TIER_INDEX_MAX = FIVE_TIERS.index(FiveTier.SPECIAL_MENTION)
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")


@dataclass(frozen=True, slots=True)
class AgingPolicy:
    # Upper DPD bound (inclusive) of M0..M6; anything above the last is M7+.
    bucket_upper_dpd: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 180)
    # Lowest DPD of 关注, 次级, 可疑, 损失 (正常 below the first).
    class_lower_dpd: tuple[int, ...] = (1, 91, 271, 361)
    # Non-accrual (停止计息): past this DPD a loan's interest and penalty stop being income; it
    # accrues again at an end of day where DPD <= accrual_resume_dpd and its class is performing.
    non_accrual_dpd: int = 90
    accrual_resume_dpd: int = 0
    # Restructuring (重组): the floors of the class and the observation period (观察期).
    restructure_tier: FiveTier = FiveTier.SPECIAL_MENTION
    restructure_npl_tier: FiveTier = FiveTier.SUBSTANDARD
    restructure_arrears_tier: FiveTier = FiveTier.SUBSTANDARD
    observation_due_dates_min: int = 2
    observation_days_min: int = 365

    def __post_init__(self) -> None:
        check(len(self.bucket_upper_dpd) == len(BUCKETS) - 1, "one upper bound per bucket but the last")
        check(len(self.class_lower_dpd) == len(FIVE_TIERS) - 1, "one lower bound per class but the first")
        check(list(self.bucket_upper_dpd) == sorted(set(self.bucket_upper_dpd)), "bucket bounds strictly increase")
        check(list(self.class_lower_dpd) == sorted(set(self.class_lower_dpd)), "class bounds strictly increase")
        check(self.bucket_upper_dpd[0] == 0 and self.class_lower_dpd[0] >= 1, "M0 is DPD 0; normal includes DPD 0")
        check(0 <= self.accrual_resume_dpd < self.non_accrual_dpd <= 3_660, "accrual resumes below the non-accrual DPD")
        check(tier_index(self.restructure_tier) <= tier_index(self.restructure_npl_tier),
              "a restructure NPL floor is at least the restructure floor")
        check(1 <= self.observation_due_dates_min <= 60 and 0 <= self.observation_days_min <= 3_660,
              "observation bounds in range")

    def bucket(self, days_past_due: int) -> str:
        check(days_past_due >= 0, "days past due are not negative")
        # bisect_left on the sorted bounds is np.searchsorted(side="left"): the array form below agrees.
        return BUCKETS[bisect_left(self.bucket_upper_dpd, days_past_due)]

    def five_tier(self, days_past_due: int) -> FiveTier:
        check(days_past_due >= 0, "days past due are not negative")
        return FIVE_TIERS[bisect_right(self.class_lower_dpd, days_past_due)]

    def bucket_index_array(self, dpd: NDArray[np.int64]) -> NDArray[np.int64]:
        import numpy as np

        return np.searchsorted(np.asarray(self.bucket_upper_dpd), dpd, side="left").astype(np.int64)

    def five_tier_index_array(self, dpd: NDArray[np.int64]) -> NDArray[np.int64]:
        import numpy as np

        return np.searchsorted(np.asarray(self.class_lower_dpd), dpd, side="right").astype(np.int64)

    def classify(self, days_past_due: int, floor: FiveTier) -> FiveTier:
        """The class by DPD, never better than `floor` (a restructured loan under observation)."""
        return FIVE_TIERS[max(tier_index(self.five_tier(days_past_due)), tier_index(floor))]


def tier_index(tier: FiveTier) -> int:
    return FIVE_TIERS.index(tier)


def is_performing(tier: FiveTier) -> bool:
    """正常 and 关注 are performing; 次级, 可疑 and 损失 are non-performing (不良)."""
    return tier_index(tier) <= PERFORMING_TIER_INDEX_MAX


DEFAULT_AGING = AgingPolicy()
