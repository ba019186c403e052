"""Who applies: applicant type, segment, region, latent creditworthiness, age, gender, date, rings.

The latent creditworthiness `z` ~ N(0, 1) is the hidden truth behind most observables and the
default hazard; models never see it, tests do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from lendstack.sim.draws import BoolArray, IntArray, categorical, stream
from lendstack.sim.shift import Shift, applicant_type_probs, region_probs, segment_probs_by_type
from lendstack.sim.tables import FEMALE_SHARE, INDIVIDUAL, SALARIED, FloatArray

DAYS_BACK = 365  # applications spread over the 12 months before as_of
RING_SIZE_MIN, RING_SIZE_MAX = 3, 15
RING_WINDOW_DAYS = 14  # a ring applies in a burst


@dataclass(frozen=True)
class Rings:
    ring_of_row: IntArray  # ring number per row, -1 outside rings
    leader_row: IntArray  # per ring: the row whose identifiers the ring shares

    @property
    def in_ring(self) -> BoolArray:
        result: BoolArray = self.ring_of_row >= 0
        return result


@dataclass(frozen=True)
class Population:
    type_code: IntArray
    segment_code: IntArray
    region_code: IntArray
    z: FloatArray
    age_years: IntArray
    female: BoolArray
    applied_day: IntArray  # days since 1970-01-01
    applied_month0: IntArray  # calendar month of the application, 0 = January
    rings: Rings

    @property
    def n(self) -> int:
        return len(self.z)

    @property
    def is_business(self) -> BoolArray:
        result: BoolArray = self.type_code != INDIVIDUAL
        return result

    @property
    def has_revenue(self) -> BoolArray:
        """Businesses and gig workers have revenue flows; salaried individuals do not."""
        result: BoolArray = self.segment_code != SALARIED
        return result


def draw_population(n: int, seed: int, as_of: date, shift: Shift) -> Population:
    rng = stream(seed, "population")
    type_code = categorical(rng, applicant_type_probs(shift), n=n)
    segment_code = categorical(rng, segment_probs_by_type(shift), type_code)
    region_code = categorical(rng, region_probs(shift), n=n)
    z = rng.standard_normal(n) + shift.latent_mean
    # Individuals apply younger; better borrowers are a little older (longer, steadier histories).
    age_raw = 41.0 + 10.5 * rng.standard_normal(n) + 1.5 * z - 4.0 * (type_code == INDIVIDUAL)
    age_years = np.clip(np.rint(age_raw), 18, 70).astype(np.int64)
    female = rng.random(n) < FEMALE_SHARE
    days_back = rng.integers(1, DAYS_BACK + 1, size=n)
    ring_rng = stream(seed, "rings")
    rings = _draw_rings(ring_rng, n, shift.ring_share)
    days_back = _cluster_ring_dates(ring_rng, days_back, rings)
    applied_day = (np.datetime64(as_of, "D").astype(np.int64) - days_back).astype(np.int64)
    months = applied_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return Population(type_code, segment_code, region_code, z, age_years, female, applied_day, months % 12, rings)


def _draw_rings(rng: np.random.Generator, n: int, share: float) -> Rings:
    """Fraud rings of 3-15 members, about `share` of all applicants, at random rows."""
    target = round(share * n)
    sizes = rng.integers(RING_SIZE_MIN, RING_SIZE_MAX + 1, size=target // RING_SIZE_MIN + 1)
    keep = int(np.searchsorted(np.cumsum(sizes), target, side="right"))
    sizes = sizes[:keep]
    members = rng.choice(n, size=int(sizes.sum()), replace=False) if keep else np.zeros(0, dtype=np.int64)
    ring_of_row = np.full(n, -1, dtype=np.int64)
    ring_of_row[members] = np.repeat(np.arange(keep), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64) if keep else np.zeros(0, np.int64)
    leader_row = members[starts].astype(np.int64)
    assert len(leader_row) == keep and np.all(ring_of_row[leader_row] == np.arange(keep))
    return Rings(ring_of_row, leader_row)


def _cluster_ring_dates(rng: np.random.Generator, days_back: IntArray, rings: Rings) -> IntArray:
    """Ring members apply within a couple of weeks of their leader."""
    if len(rings.leader_row) == 0:
        return days_back
    rows = np.flatnonzero(rings.in_ring)
    leader_days = days_back[rings.leader_row[rings.ring_of_row[rows]]]
    jitter = rng.integers(0, RING_WINDOW_DAYS, size=len(rows))
    clustered = days_back.copy()
    clustered[rows] = np.clip(leader_days - jitter, 1, DAYS_BACK)
    return clustered
