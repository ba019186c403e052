"""The scalar classification (bisect, no NumPy) and the batch one (NumPy) agree on every DPD."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lendstack.servicing.aging import BUCKETS, FIVE_TIERS, AgingPolicy

DPD = st.integers(min_value=0, max_value=10_000)


@given(st.lists(DPD, min_size=1, max_size=50))
def test_scalar_and_array_forms_agree(dpds: list[int]) -> None:
    policy = AgingPolicy()
    array = np.asarray(dpds, dtype=np.int64)
    buckets = policy.bucket_index_array(array)
    tiers = policy.five_tier_index_array(array)
    for index, dpd in enumerate(dpds):
        assert policy.bucket(dpd) == BUCKETS[int(buckets[index])]
        assert policy.five_tier(dpd) == FIVE_TIERS[int(tiers[index])]


def test_boundaries() -> None:
    policy = AgingPolicy()
    assert [policy.bucket(d) for d in (0, 1, 30, 31, 180, 181)] == ["M0", "M1", "M1", "M2", "M6", "M7+"]
    assert [policy.five_tier(d).value for d in (0, 1, 90, 91, 270, 271, 360, 361)] == [
        "normal", "special_mention", "special_mention", "substandard", "substandard", "doubtful", "doubtful", "loss"]
