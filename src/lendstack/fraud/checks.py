"""The fraud checks: each a pure function of the application, its data and the history, returning flags."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from lendstack.fraud.config import DEFAULT, FraudConfig
from lendstack.fraud.context import BLACKLIST_KINDS, VELOCITY_KINDS, FraudContext, identifier_values
from lendstack.fraud.graph import identity_component
from lendstack.origination import Application, DataBundle, EditEvent, Flag

EARTH_RADIUS_KM = 6371.0088
_VELOCITY_NAMES = {
    "applicant_id": "id",
    "phone_hash": "phone",
    "device_id": "device",
    "bank_account_hash": "bank_account",
}
_VELOCITY_ZH = {"applicant_id": "证件", "phone_hash": "手机号", "device_id": "设备", "bank_account_hash": "银行账户"}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _window(application: Application, days: int) -> tuple[datetime, datetime]:
    """[since, until): the `days` days up to and including the application date."""
    until = datetime.combine(application.applied_on + timedelta(days=1), time(), UTC)
    return until - timedelta(days=days), until


def velocity_flags(application: Application, context: FraudContext, config: FraudConfig) -> list[Flag]:
    since, until = _window(application, config.velocity_window_days)
    flags = []
    for kind, value in identifier_values(application).items():
        if kind not in VELOCITY_KINDS:
            continue
        others = context.count_recent(kind, value, since, until=until, excluding=application.application_id)
        count = others + 1  # this application
        if count > config.velocity_applications_max:
            name, days = _VELOCITY_NAMES[kind], config.velocity_window_days
            flags.append(Flag(
                f"fraud.velocity.{name}", "high",
                f"{count} applications with the same {name.replace('_', ' ')} in {days} days",
                f"{days}天内同一{_VELOCITY_ZH[kind]}申请{count}次",
                {"identifier_kind": kind, "value": value, "applications": count, "window_days": days},
            ))  # fmt: skip
    return flags


def device_flags(bundle: DataBundle, config: FraudConfig) -> list[Flag]:
    device = bundle.payload("device") or {}
    flags = []
    changes = device.get("device_changes_90d")
    if changes is not None and changes > config.device_changes_90d_max:
        flags.append(Flag(
            "fraud.device.changes", "warn", f"{changes} device changes in 90 days", f"近90天换机{changes}次",
            {"device_changes_90d": changes, "max": config.device_changes_90d_max},
        ))  # fmt: skip
    age_days = device.get("device_age_days")
    if age_days is not None and age_days < config.device_age_days_min:
        flags.append(Flag(
            "fraud.device.new", "info", f"device first seen {age_days} days ago", f"设备启用仅{age_days}天",
            {"device_age_days": age_days, "min": config.device_age_days_min},
        ))  # fmt: skip
    return flags


def _gps_from_device(bundle: DataBundle, config: FraudConfig) -> list[Flag]:
    distance_km = (bundle.payload("device") or {}).get("gps_distance_km")
    if distance_km is None or distance_km <= config.gps_distance_km_max:
        return []
    return [Flag(
        "fraud.geo.far_from_address", "warn",
        f"device located {distance_km:.0f} km from the declared address", f"设备定位距申报地址{distance_km:.0f}公里",
        {"gps_distance_km": distance_km, "max_km": config.gps_distance_km_max, "source": "device"},
    )]  # fmt: skip


def _gps_from_edits(application: Application, config: FraudConfig) -> list[Flag]:
    a = application.applicant
    if a.address_lat is None or a.address_lon is None:
        return []
    located = [e for e in application.edits if e.gps_lat is not None and e.gps_lon is not None]
    far = [(e, haversine_km(a.address_lat, a.address_lon, e.gps_lat, e.gps_lon)) for e in located]  # type: ignore[arg-type]
    far = [(e, km) for e, km in far if km > config.gps_distance_km_max]
    if not far:
        return []
    km_max = max(km for _, km in far)
    return [Flag(
        "fraud.geo.edits_far_from_address", "warn",
        f"{len(far)} edits made up to {km_max:.0f} km from the declared address",
        f"{len(far)}次修改的定位距申报地址最远{km_max:.0f}公里",
        {"edits": len(far), "distance_km_max": round(km_max, 1), "max_km": config.gps_distance_km_max},
    )]  # fmt: skip


def _travel_leg(a: EditEvent, b: EditEvent) -> tuple[float, float]:
    """(distance_km, speed_kmh) between two located edits; an instant jump has infinite speed."""
    assert a.gps_lat is not None and a.gps_lon is not None and b.gps_lat is not None and b.gps_lon is not None
    distance_km = haversine_km(a.gps_lat, a.gps_lon, b.gps_lat, b.gps_lon)
    hours = (b.at - a.at).total_seconds() / 3600.0
    return distance_km, (distance_km / hours if hours > 0 else math.inf)


def impossible_travel_flags(application: Application, config: FraudConfig) -> list[Flag]:
    located = [e for e in application.edits if e.gps_lat is not None and e.gps_lon is not None]
    for a, b in itertools.pairwise(located):
        distance_km, speed_kmh = _travel_leg(a, b)
        if distance_km >= config.travel_distance_km_min and speed_kmh > config.travel_speed_kmh_max:
            shown = "instant" if math.isinf(speed_kmh) else f"{speed_kmh:.0f} km/h"
            return [Flag(
                "fraud.geo.impossible_travel", "high",
                f"edits {distance_km:.0f} km apart ({shown})", f"两次修改相距{distance_km:.0f}公里，移动速度不可能",
                {"distance_km": round(distance_km, 1), "speed_kmh": None if math.isinf(speed_kmh) else round(speed_kmh),
                 "from_at": a.at.isoformat(), "to_at": b.at.isoformat()},
            )]  # fmt: skip
    return []


def geo_flags(application: Application, bundle: DataBundle, config: FraudConfig) -> list[Flag]:
    return (
        _gps_from_device(bundle, config)
        + _gps_from_edits(application, config)
        + impossible_travel_flags(application, config)
    )


def odd_hour_flags(application: Application, bundle: DataBundle, config: FraudConfig) -> list[Flag]:
    # The hour is read in the edit's own UTC offset: 3 a.m. where the applicant was.
    night = [e for e in application.edits if config.odd_hour_start <= e.at.hour < config.odd_hour_end]
    flags = []
    if len(night) >= config.odd_hour_edits_min:
        fields = sorted({e.field for e in night})
        flags.append(Flag(
            "fraud.edits.odd_hour_burst", "warn",
            f"{len(night)} edits between {config.odd_hour_start}:00 and {config.odd_hour_end}:00 ({', '.join(fields)})",
            f"凌晨{config.odd_hour_start}-{config.odd_hour_end}点修改{len(night)}次",
            {"edits": len(night), "fields": fields, "times": [e.at.isoformat() for e in night[:10]]},
        ))  # fmt: skip
    share = (bundle.payload("device") or {}).get("night_edits_share")
    if share is not None and share > config.night_edits_share_max:
        flags.append(Flag(
            "fraud.edits.night_share", "warn", f"{share:.0%} of edits made between midnight and 5 a.m.",
            f"{share:.0%}的修改发生在凌晨", {"night_edits_share": share, "max": config.night_edits_share_max},
        ))  # fmt: skip
    return flags


def ring_flags(application: Application, context: FraudContext, config: FraudConfig) -> list[Flag]:
    component = identity_component(application, context, config.ring_search_nodes_max)
    members = len(component.applicant_ids)
    if members < config.ring_members_min:
        return []
    evidence: dict[str, Any] = {
        "members": members,
        "shared_identifiers": component.shared,
        "member_ids": sorted(component.applicant_ids)[:20],
        "truncated": component.truncated,
    }
    return [Flag(
        "fraud.ring", "critical",
        f"linked to {members} applicants through shared identifiers", f"通过共用标识关联{members}名申请人（疑似团伙）",
        evidence,
    )]  # fmt: skip


def blacklist_flags(application: Application, context: FraudContext) -> list[Flag]:
    flags = []
    for kind, value in identifier_values(application).items():
        assert kind in BLACKLIST_KINDS
        if context.is_blacklisted(kind, value):
            flags.append(Flag(
                f"fraud.blacklist.{kind}", "critical", f"{kind.replace('_', ' ')} is on a blacklist",
                "命中黑名单（失信）", {"kind": kind, "value": value},
            ))  # fmt: skip
    return flags


def multi_borrowing_flags(bundle: DataBundle, config: FraudConfig) -> list[Flag]:
    bureau = bundle.payload("bureau") or {}
    open_loans, inquiries = bureau.get("open_loans_elsewhere"), bureau.get("inquiries_6m")
    too_many_loans = open_loans is not None and open_loans > config.open_loans_elsewhere_max
    too_many_inquiries = inquiries is not None and inquiries > config.inquiries_6m_max
    if not (too_many_loans or too_many_inquiries):
        return []
    return [Flag(
        "fraud.multi_borrowing", "warn",
        f"{open_loans} open loans elsewhere, {inquiries} credit inquiries in 6 months",
        f"多头借贷：他行在贷{open_loans}笔，近6个月查询{inquiries}次",
        {"open_loans_elsewhere": open_loans, "inquiries_6m": inquiries,
         "open_loans_elsewhere_max": config.open_loans_elsewhere_max, "inquiries_6m_max": config.inquiries_6m_max},
    )]  # fmt: skip


def run_fraud_checks(
    application: Application, bundle: DataBundle, context: FraudContext, config: FraudConfig = DEFAULT
) -> list[Flag]:
    """Every check, in a fixed order, so the same inputs give the same flags in the same order."""
    checks: tuple[Callable[[], list[Flag]], ...] = (
        lambda: velocity_flags(application, context, config),
        lambda: device_flags(bundle, config),
        lambda: geo_flags(application, bundle, config),
        lambda: odd_hour_flags(application, bundle, config),
        lambda: ring_flags(application, context, config),
        lambda: blacklist_flags(application, context),
        lambda: multi_borrowing_flags(bundle, config),
    )
    return [flag for check in checks for flag in check()]
