"""Each fraud check: a planted case raises its flag with evidence, a clean case raises nothing."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest

from lendstack.fraud import (
    BlacklistEntry,
    BlacklistError,
    FraudConfig,
    MemoryFraudContext,
    haversine_km,
    parse_blacklist_csv,
    run_fraud_checks,
)
from lendstack.origination import Application, DataBundle, embedded_connectors, gather, parse_application

TODAY = date(2026, 1, 15)
APPLIED_ON = date(2025, 6, 10)
SHANGHAI = (31.2304, 121.4737)
BEIJING = (39.9042, 116.4074)


def _document(application_id: str = "A-1", **identifiers: str) -> dict[str, Any]:
    ids = {"phone_hash": "p-" + application_id, "device_id": "d-" + application_id,
           "bank_account_hash": "b-" + application_id, "address_hash": "h-" + application_id} | identifiers  # fmt: skip
    return {
        "application_id": application_id,
        "applied_on": APPLIED_ON.isoformat(),
        "currency": "CNY",
        "applicant": {"applicant_type": "sole_proprietor", "segment": "retail", "region": "east", "gender": "female",
                      "age": 41, "identifiers": ids, "address_lat": SHANGHAI[0], "address_lon": SHANGHAI[1]},
        "declared": {"declared_monthly_revenue_minor": 5_000_000, "requested_amount_minor": 8_000_000,
                     "requested_term_months": 12, "purpose": "inventory", "collateral": "none"},
        "data_sources": {
            "bureau": {"inquiries_6m": 1, "open_loans_elsewhere": 1, "bureau_score": 720},
            "device": {"device_age_days": 400, "device_changes_90d": 0, "app_sessions_30d": 12,
                       "night_edits_share": 0.02, "gps_distance_km": 2.5},
        },
        "edits": [{"at": "2025-06-09T14:00:00+08:00", "field": "amount", "gps_lat": 31.23, "gps_lon": 121.47}],
    }  # fmt: skip


def _parse(document: dict[str, Any]) -> Application:
    return parse_application(document, today=TODAY)


def _check(application: Application, context: MemoryFraudContext | None = None, **config: Any) -> dict[str, Any]:
    bundle: DataBundle = gather(application, embedded_connectors())
    flags = run_fraud_checks(application, bundle, context or MemoryFraudContext(), FraudConfig(**config))
    return {flag.code: flag for flag in flags}


def test_a_clean_application_raises_no_flag() -> None:
    assert _check(_parse(_document())) == {}


def test_velocity_counts_applications_per_identifier_within_the_window() -> None:
    history = []
    for k in range(3):
        doc = _document(f"H-{k}", phone_hash="shared-phone")
        doc["applied_on"] = (APPLIED_ON - timedelta(days=5 * k)).isoformat()
        history.append(_parse(doc))
    old = _document("H-old", device_id="d-A-1")
    old["applied_on"] = (APPLIED_ON - timedelta(days=90)).isoformat()  # outside the 30-day window
    later = _document("H-later", bank_account_hash="b-A-1")
    later["applied_on"] = (APPLIED_ON + timedelta(days=3)).isoformat()  # after this application: not history
    context = MemoryFraudContext([*history, _parse(old), _parse(later)])
    flags = _check(_parse(_document(phone_hash="shared-phone")), context)
    velocity = flags["fraud.velocity.phone"]
    assert velocity.severity == "high"
    assert velocity.evidence == {
        "identifier_kind": "phone_hash",
        "value": "shared-phone",
        "applications": 4,
        "window_days": 30,
    }
    assert "fraud.velocity.device" not in flags and "fraud.velocity.bank_account" not in flags
    # The same application already in the history is not counted twice.
    context.add(_parse(_document(phone_hash="shared-phone")))
    assert (
        _check(_parse(_document(phone_hash="shared-phone")), context)["fraud.velocity.phone"].evidence["applications"]
        == 4
    )


def test_velocity_by_applicant_id() -> None:
    docs = []
    for k in range(3):
        doc = _document(f"R-{k}")
        doc["applicant"]["applicant_id"] = "person-1"
        docs.append(_parse(doc))
    flags = _check(docs[0], MemoryFraudContext(docs))
    assert flags["fraud.velocity.id"].evidence["applications"] == 3


@pytest.mark.parametrize(
    ("device", "code"),
    [({"device_changes_90d": 5}, "fraud.device.changes"), ({"device_age_days": 3}, "fraud.device.new")],
)
def test_device_checks(device: dict[str, Any], code: str) -> None:
    doc = _document()
    doc["data_sources"]["device"] |= device
    flag = _check(_parse(doc))[code]
    assert set(device) <= set(flag.evidence)


def test_gps_far_from_the_declared_address_from_the_device_source() -> None:
    doc = _document()
    doc["data_sources"]["device"]["gps_distance_km"] = 420.0
    flag = _check(_parse(doc))["fraud.geo.far_from_address"]
    assert flag.evidence["gps_distance_km"] == 420.0


def test_gps_far_from_the_declared_address_from_the_edits() -> None:
    doc = _document()
    doc["edits"] = [
        {"at": "2025-06-09T14:00:00+08:00", "field": "amount", "gps_lat": BEIJING[0], "gps_lon": BEIJING[1]}
    ]
    flag = _check(_parse(doc))["fraud.geo.edits_far_from_address"]
    assert flag.evidence["distance_km_max"] == pytest.approx(haversine_km(*SHANGHAI, *BEIJING), abs=0.1)
    assert 1000 < flag.evidence["distance_km_max"] < 1100


def test_impossible_travel_between_edits() -> None:
    doc = _document()
    doc["applicant"].pop("address_lat"), doc["applicant"].pop("address_lon")
    doc["edits"] = [
        {"at": "2025-06-09T14:00:00+08:00", "field": "amount", "gps_lat": SHANGHAI[0], "gps_lon": SHANGHAI[1]},
        {"at": "2025-06-09T14:30:00+08:00", "field": "address", "gps_lat": BEIJING[0], "gps_lon": BEIJING[1]},
    ]
    flag = _check(_parse(doc))["fraud.geo.impossible_travel"]
    assert flag.evidence["speed_kmh"] > 2000 and flag.evidence["distance_km"] > 1000
    # A day between the two edits is a plausible flight.
    doc["edits"][1]["at"] = "2025-06-10T14:30:00+08:00"
    assert "fraud.geo.impossible_travel" not in _check(_parse(doc))


def test_odd_hour_edit_burst_in_local_time() -> None:
    doc = _document()
    doc["edits"] = [{"at": f"2025-06-09T0{h}:1{h}:00+08:00", "field": "delivery_address"} for h in (2, 3, 4)]
    flag = _check(_parse(doc))["fraud.edits.odd_hour_burst"]
    assert flag.evidence["edits"] == 3 and flag.evidence["fields"] == ["delivery_address"]
    # The same instants in UTC are 18:00-20:00 the previous day: not odd hours there, but the offset says local.
    doc["edits"] = [{"at": f"2025-06-09T1{h}:10:00+08:00", "field": "delivery_address"} for h in (2, 3, 4)]
    assert "fraud.edits.odd_hour_burst" not in _check(_parse(doc))
    assert _check(_parse(doc), odd_hour_start=12, odd_hour_end=15)["fraud.edits.odd_hour_burst"].evidence["edits"] == 3


def test_night_edit_share_from_the_device_source() -> None:
    doc = _document()
    doc["data_sources"]["device"]["night_edits_share"] = 0.6
    assert _check(_parse(doc))["fraud.edits.night_share"].evidence["night_edits_share"] == 0.6


def test_identity_ring_of_applicants_sharing_identifiers() -> None:
    # A chain: 1 shares a device with 2, 2 shares an account with 3, 3 shares an address with 4.
    ring = [
        _parse(_document("A-1", device_id="dev-x")),
        _parse(_document("A-2", device_id="dev-x", bank_account_hash="acct-y")),
        _parse(_document("A-3", bank_account_hash="acct-y", address_hash="home-z")),
        _parse(_document("A-4", address_hash="home-z")),
    ]
    context = MemoryFraudContext([*ring, _parse(_document("B-1")), _parse(_document("B-2"))])
    flag = _check(ring[0], context)["fraud.ring"]
    assert flag.severity == "critical" and flag.evidence["members"] == 4
    assert flag.evidence["member_ids"] == ["A-1", "A-2", "A-3", "A-4"]
    assert flag.evidence["shared_identifiers"] == {"device_id": 1, "bank_account_hash": 1, "address_hash": 1}
    assert "fraud.ring" not in _check(_parse(_document("B-1")), context)
    # A pair is a household, not a ring.
    pair = MemoryFraudContext(
        [_parse(_document("C-1", address_hash="home")), _parse(_document("C-2", address_hash="home"))]
    )
    assert "fraud.ring" not in _check(_parse(_document("C-1", address_hash="home")), pair)


def test_a_huge_component_is_walked_to_a_bound() -> None:
    members = [_parse(_document(f"M-{k}", device_id="farm-device")) for k in range(300)]
    flag = _check(members[0], MemoryFraudContext(members), ring_search_nodes_max=100)["fraud.ring"]
    assert flag.evidence["truncated"] and flag.evidence["members"] >= 20


def test_blacklist_hit_on_any_identifier() -> None:
    context = MemoryFraudContext(
        blacklist=[BlacklistEntry("bank_account_hash", "b-A-1", "失信被执行人", date(2024, 5, 1))]
    )
    flag = _check(_parse(_document()), context)["fraud.blacklist.bank_account_hash"]
    assert flag.severity == "critical" and flag.evidence == {"kind": "bank_account_hash", "value": "b-A-1"}


def test_multi_borrowing_from_the_bureau() -> None:
    doc = _document()
    doc["data_sources"]["bureau"] |= {"open_loans_elsewhere": 9, "inquiries_6m": 3}
    flag = _check(_parse(doc))["fraud.multi_borrowing"]
    assert flag.evidence["open_loans_elsewhere"] == 9
    doc["data_sources"]["bureau"] |= {"open_loans_elsewhere": 0, "inquiries_6m": 14}
    assert _check(_parse(doc))["fraud.multi_borrowing"].evidence["inquiries_6m"] == 14


def test_missing_sources_raise_no_source_based_flag() -> None:
    doc = _document()
    doc["data_sources"] = {}
    assert _check(_parse(doc)) == {}


def test_checks_are_deterministic_and_serialisable() -> None:
    import json

    doc = _document(device_id="dev-x")
    doc["data_sources"]["device"] |= {"device_changes_90d": 7, "gps_distance_km": 90.0}
    context = MemoryFraudContext(
        [_parse(_document("Z-1", device_id="dev-x")), _parse(_document("Z-2", device_id="dev-x"))]
    )
    first = run_fraud_checks(_parse(doc), gather(_parse(doc), embedded_connectors()), context)
    second = run_fraud_checks(_parse(copy.deepcopy(doc)), gather(_parse(doc), embedded_connectors()), context)
    assert first == second and len(first) >= 3
    json.dumps([flag.as_dict() for flag in first], ensure_ascii=False)


def test_blacklist_csv_import() -> None:
    text = (
        "kind,value,reason,listed_on\n"
        "applicant_id,C-9,失信被执行人,2024-03-01\n"
        "phone_hash,abc , fraud ring ,2025-01-02\n"
    )
    entries = parse_blacklist_csv(text)
    assert entries == [
        BlacklistEntry("applicant_id", "C-9", "失信被执行人", date(2024, 3, 1)),
        BlacklistEntry("phone_hash", "abc", "fraud ring", date(2025, 1, 2)),
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("kind,value\nphone_hash,x\n", "line 1: header"),
        ("kind,value,reason,listed_on\npassport,x,r,2024-01-01\n", "line 2: kind"),
        ("kind,value,reason,listed_on\nphone_hash,,r,2024-01-01\n", "line 2: value"),
        ("kind,value,reason,listed_on\nphone_hash,a,r,2024-01-01\nphone_hash,b,r,01/02/2024\n", "line 3: listed_on"),
        ("kind,value,reason,listed_on\nphone_hash,a,r\n", "line 2"),
    ],
)
def test_blacklist_csv_errors_name_the_line(text: str, field: str) -> None:
    with pytest.raises(BlacklistError) as raised:
        parse_blacklist_csv(text)
    assert raised.value.field == field
