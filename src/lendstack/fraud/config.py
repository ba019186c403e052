"""`FraudConfig`: the windows and thresholds of the fraud checks, as data a risk officer can tune."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FraudConfig:
    # Velocity: applications per identifier within a window (this application included).
    velocity_window_days: int = 30
    velocity_applications_max: int = 2  # a third application within the window raises a flag
    # Device (device source): frequent changes and brand-new devices are typical of fraud farms.
    device_changes_90d_max: int = 2
    device_age_days_min: int = 30
    # Geo: GPS far from the declared address; travel faster than an airliner between two edits.
    gps_distance_km_max: float = 50.0
    travel_speed_kmh_max: float = 900.0
    travel_distance_km_min: float = 50.0  # below this, GPS jitter, not travel
    # Odd-hour edits (深夜修改): edits between these local hours, [start, end).
    odd_hour_start: int = 0
    odd_hour_end: int = 5
    odd_hour_edits_min: int = 3
    night_edits_share_max: float = 0.3  # device source: share of all edits made at night
    # Identity graph: applicants linked by shared phone, device, account or address.
    ring_members_min: int = 3
    ring_search_nodes_max: int = 500  # bounds the walk through history for one application
    # Multi-borrowing (多头借贷) from the bureau.
    open_loans_elsewhere_max: int = 5
    inquiries_6m_max: int = 10

    def __post_init__(self) -> None:
        assert self.velocity_window_days > 0 and self.velocity_applications_max >= 1
        assert 0 <= self.odd_hour_start < self.odd_hour_end <= 24
        assert self.odd_hour_edits_min >= 1 and self.ring_members_min >= 2
        assert self.gps_distance_km_max > 0 and self.travel_speed_kmh_max > 0
        assert 0 < self.night_edits_share_max <= 1


DEFAULT = FraudConfig()
