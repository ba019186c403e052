"""Vehicle telematics (for vehicle-backed ride-hailing and logistics loans) and device / in-app behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lendstack.sim.columns import Columns, float_column, int_column, money_column
from lendstack.sim.declared import Declared
from lendstack.sim.draws import BoolArray, lognormal_unit_mean, sigmoid, stream
from lendstack.sim.flows import Flows
from lendstack.sim.population import Population
from lendstack.sim.tables import SEGMENTS, FloatArray

LOGISTICS = SEGMENTS.index("logistics")
DEVICE_AGE_MAX_DAYS = 3_000


@dataclass(frozen=True)
class Telematics:
    night_driving_share: FloatArray  # 0 where there is no telematics
    mileage_ratio: FloatArray  # mileage / the segment's typical mileage; 1 where there is no telematics


def draw_telematics(seed: int, people: Population, declared: Declared) -> tuple[Telematics, Columns]:
    rng = stream(seed, "telematics")
    n, z, backed = people.n, people.z, declared.vehicle_backed
    logistics = people.segment_code == LOGISTICS
    value_cny = np.where(logistics, 220_000.0, 130_000.0) * np.exp(0.1 * z) * lognormal_unit_mean(rng, 0.3, n)
    typical_km = np.where(logistics, 7_000.0, 4_500.0)
    # Busy drivers earn and repay; an idle vehicle is an early warning.
    mileage_ratio = np.exp(0.15 * z) * lognormal_unit_mean(rng, 0.35, n)
    night_share = sigmoid(np.log(0.2 / 0.8) - 0.3 * z + 0.5 * rng.standard_normal(n))
    exits = rng.poisson(np.where(logistics, 6.0, 1.0) * np.exp(-0.3 * z))
    columns = {
        "vehicle_value_minor": money_column("vehicle_value_minor", np.round(value_cny, 0), backed),
        "mileage_km_30d": float_column("mileage_km_30d", typical_km * mileage_ratio, backed, decimals=1),
        "night_driving_share": float_column("night_driving_share", night_share, backed),
        "region_exits_30d": int_column("region_exits_30d", exits, backed),
    }
    return Telematics(np.where(backed, night_share, 0.0), np.where(backed, mileage_ratio, 1.0)), columns


def draw_device(seed: int, people: Population, flows: Flows) -> Columns:
    """Device and in-app behaviour. Rings use fresh devices, few sessions and odd-hour edits far from home."""
    rng = stream(seed, "device")
    n, z = people.n, people.z
    ring: BoolArray = people.rings.in_ring
    suspicious = ring | flows.packaged
    device_age = np.where(ring, rng.integers(1, 31, n), np.rint(rng.gamma(2.0, 250.0 * np.exp(0.2 * z))))
    changes = rng.poisson(np.exp(-1.4 - 0.4 * z)) + ring * rng.poisson(2.0, n)
    sessions = np.where(ring, rng.poisson(3.0, n), rng.poisson(12.0 * np.exp(0.2 * rng.standard_normal(n))))
    night_edits = sigmoid(np.log(0.05 / 0.95) - 0.2 * z + 1.5 * suspicious + 0.6 * rng.standard_normal(n))
    gps_km = np.exp(np.log(3.0) + 1.0 * rng.standard_normal(n)) * np.where(suspicious, 5.0, 1.0)
    return {
        "device_age_days": int_column("device_age_days", np.clip(device_age, 1, DEVICE_AGE_MAX_DAYS)),
        "device_changes_90d": int_column("device_changes_90d", changes),
        "app_sessions_30d": int_column("app_sessions_30d", sessions),
        "night_edits_share": float_column("night_edits_share", night_edits),
        "gps_distance_km": float_column("gps_distance_km", gps_km, decimals=1),
    }
