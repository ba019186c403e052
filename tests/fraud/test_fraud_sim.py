"""On simulated data: ring members get ring flags far more often than others; the checks are fast."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lendstack.fraud import MemoryFraudContext, ring_components, run_fraud_checks
from lendstack.origination import Application, DataBundle, embedded_connectors, gather, parse_application
from lendstack.sim import Shift, generate_applications, to_application_json

Sample = list[tuple[dict[str, Any], Application, DataBundle]]


@pytest.fixture(scope="module")
def sample() -> Sample:
    # A higher ring share than the default so that the sample holds enough rings to measure.
    frame = generate_applications(4000, 23, shift=Shift(ring_share=0.03))
    connectors = embedded_connectors()
    out = []
    for row in frame.iter_rows(named=True):
        application = parse_application(to_application_json(row))
        out.append((row, application, gather(application, connectors)))
    return out


def _rates(sample: Sample, context: MemoryFraudContext, code: str) -> tuple[float, float]:
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for row, application, bundle in sample:
        codes = {flag.code for flag in run_fraud_checks(application, bundle, context)}
        hits[row["ring_id"] is not None].append(code in codes)
    assert len(hits[True]) >= 50, "the sample needs ring members"
    return sum(hits[True]) / len(hits[True]), sum(hits[False]) / len(hits[False])


def test_ring_members_get_ring_flags_far_more_often(sample: Sample) -> None:
    context = MemoryFraudContext(app for _, app, _ in sample)
    ring_rate, other_rate = _rates(sample, context, "fraud.ring")
    assert ring_rate >= 0.9, ring_rate
    assert other_rate <= 0.01, other_rate


def test_ring_members_trip_velocity_checks(sample: Sample) -> None:
    context = MemoryFraudContext(app for _, app, _ in sample)
    hits = {True: 0, False: 0}
    counts = {True: 0, False: 0}
    for row, application, bundle in sample:
        in_ring = row["ring_id"] is not None
        counts[in_ring] += 1
        hits[in_ring] += any(
            f.code.startswith("fraud.velocity.") for f in run_fraud_checks(application, bundle, context)
        )
    assert hits[True] / counts[True] >= 0.5 and hits[False] / counts[False] <= 0.01


def test_batch_ring_components_match_the_true_rings(sample: Sample) -> None:
    found = ring_components([app for _, app, _ in sample], members_min=3)
    true_rings: dict[str, set[str]] = {}
    for row, _, _ in sample:
        if row["ring_id"] is not None:
            true_rings.setdefault(row["ring_id"], set()).add(row["application_id"])
    big_true = [ring for ring in true_rings.values() if len(ring) >= 3]
    assert sum(any(ring <= component for component in found) for ring in big_true) / len(big_true) >= 0.9


def test_fraud_checks_take_well_under_a_millisecond(sample: Sample) -> None:
    context = MemoryFraudContext(app for _, app, _ in sample)
    started = time.perf_counter()
    for _, application, bundle in sample[:2000]:
        run_fraud_checks(application, bundle, context)
    per_application_ms = (time.perf_counter() - started) * 1000 / 2000
    assert per_application_ms < 1.0, per_application_ms
