"""`Shift`: a population-drift knob, so model monitoring has a known drift to detect.

A shift changes who applies and what they look like (incomes, inquiries, the segment and region
mix, the share of packaged data or fraud rings). The random draws stay the same for the same seed
(common random numbers), so a shifted frame differs from the baseline only through the shift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from lendstack.sim.errors import SimArgumentError
from lendstack.sim.tables import (
    APPLICANT_TYPE_WEIGHTS,
    APPLICANT_TYPES,
    REGION_WEIGHTS,
    REGIONS,
    SEGMENT_MIX_BY_TYPE,
    SEGMENTS,
    FloatArray,
)


@dataclass(frozen=True)
class Shift:
    """Population drift relative to the baseline economy. The defaults are no drift."""

    income_scale: float = 1.0  # multiplies personal incomes
    revenue_scale: float = 1.0  # multiplies business and gig revenue (all sources alike)
    inquiries_add: float = 0.0  # added to the mean number of bureau inquiries in 6 months
    open_loans_add: float = 0.0  # added to the mean number of open loans elsewhere (多头借贷)
    latent_mean: float = 0.0  # moves the latent creditworthiness: < 0 is a worse population
    packaged_share: float = 0.03  # share of applicants with packaged (inflated) revenue data (包装)
    ring_share: float = 0.01  # share of applicants in fraud rings
    # Relative weights: {"farming": 3.0} makes farming three times as likely within each applicant type.
    segment_tilt: Mapping[str, float] | None = field(default=None, hash=False)
    # Absolute mixes; missing keys get weight 0.
    applicant_type_weights: Mapping[str, float] | None = field(default=None, hash=False)
    region_weights: Mapping[str, float] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        _positive("shift.income_scale", self.income_scale)
        _positive("shift.revenue_scale", self.revenue_scale)
        _finite("shift.inquiries_add", self.inquiries_add, low=-1.0, high=50.0)
        _finite("shift.open_loans_add", self.open_loans_add, low=-1.0, high=50.0)
        _finite("shift.latent_mean", self.latent_mean, low=-3.0, high=3.0)
        _finite("shift.packaged_share", self.packaged_share, low=0.0, high=0.3)
        _finite("shift.ring_share", self.ring_share, low=0.0, high=0.2)
        _weights("shift.segment_tilt", self.segment_tilt, SEGMENTS)
        _weights("shift.applicant_type_weights", self.applicant_type_weights, APPLICANT_TYPES)
        _weights("shift.region_weights", self.region_weights, REGIONS)


def applicant_type_probs(shift: Shift) -> FloatArray:
    return _mix(shift.applicant_type_weights, APPLICANT_TYPES, APPLICANT_TYPE_WEIGHTS)


def region_probs(shift: Shift) -> FloatArray:
    return _mix(shift.region_weights, REGIONS, REGION_WEIGHTS)


def segment_probs_by_type(shift: Shift) -> FloatArray:
    """The segment mix per applicant type, tilted by `segment_tilt` and renormalised per type."""
    if shift.segment_tilt is None:
        return SEGMENT_MIX_BY_TYPE
    tilt = np.array([shift.segment_tilt.get(name, 1.0) for name in SEGMENTS])
    tilted = SEGMENT_MIX_BY_TYPE * tilt
    totals = tilted.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise SimArgumentError("shift.segment_tilt", "leaves an applicant type with no segment at all")
    result: FloatArray = tilted / totals
    return result


def _mix(weights: Mapping[str, float] | None, labels: tuple[str, ...], default: tuple[float, ...]) -> FloatArray:
    raw = default if weights is None else tuple(weights.get(label, 0.0) for label in labels)
    array = np.array(raw, dtype=np.float64)
    result: FloatArray = array / array.sum()
    return result


def _finite(name: str, value: float, *, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise SimArgumentError(name, f"must be a number in [{low}, {high}], got {value!r}")


def _positive(name: str, value: float) -> None:
    _finite(name, value, low=0.01, high=100.0)


def _weights(name: str, weights: Mapping[str, float] | None, labels: tuple[str, ...]) -> None:
    if weights is None:
        return
    unknown = sorted(set(weights) - set(labels))
    if unknown:
        raise SimArgumentError(name, f"unknown keys {unknown}; known: {', '.join(labels)}")
    for key, value in weights.items():
        _finite(f"{name}[{key}]", value, low=0.0, high=1e6)
    if sum(weights.values()) <= 0:
        raise SimArgumentError(name, "needs at least one positive weight")


BASELINE = Shift()  # built last: __post_init__ needs the validators above
