"""parse_application: the simulator's documents parse; every bad input names its field and nothing else."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lendstack.origination import Application, ApplicationError, application_document, parse_application
from lendstack.sim import generate_applications, to_application_json

TODAY = date(2026, 1, 15)
POS_MONTHS_PATH = "data_sources.pos.monthly_revenue_minor"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    row = generate_applications(50, 3).filter(applicant_type="small_business").row(0, named=True)
    return to_application_json(row)


def test_the_simulators_documents_parse_into_frozen_values(sim_rows: list[dict[str, Any]]) -> None:
    for row in sim_rows[:500]:
        application = parse_application(to_application_json(row), today=TODAY)
        assert application.application_id == row["application_id"]
        assert application.applicant.applicant_id == row["application_id"]  # no separate applicant id in sim
        assert application.applicant.identifiers.phone_hash == row["phone_hash"]
        assert application.declared.requested_amount_minor == row["requested_amount_minor"]
    with pytest.raises(AttributeError):
        application.currency = "USD"  # type: ignore[misc]


def test_optional_fields_parse(document: dict[str, Any]) -> None:
    extra = copy.deepcopy(document) | {"product_id": "sme-working-capital", "partner_id": "p-1"}
    extra["applicant"] |= {"applicant_id": "C-1", "address_lat": 31.23, "address_lon": 121.47}
    extra["edits"] = [
        {"at": "2025-06-01T03:10:00+08:00", "field": "address", "gps_lat": 31.2, "gps_lon": 121.5},
        {"at": "2025-06-01T02:10:00+08:00", "field": "phone"},
    ]
    application = parse_application(extra, today=TODAY)
    assert (application.product_id, application.partner_id, application.applicant.applicant_id) == (
        "sme-working-capital", "p-1", "C-1",
    )  # fmt: skip
    assert [e.field for e in application.edits] == ["phone", "address"], "edits come sorted by time"
    assert application.edits[1].at == datetime(2025, 5, 31, 19, 10, tzinfo=UTC)


@pytest.mark.parametrize("language", ["en", "zh-CN", None])
def test_the_borrowers_language_is_optional_and_round_trips(document: dict[str, Any], language: str | None) -> None:
    stated = copy.deepcopy(document)
    if language is not None:
        stated["applicant"]["language"] = language
    application = parse_application(stated, today=TODAY)
    assert application.applicant.language == (language or "")  # "" = not stated: the lender's default applies
    assert parse_application(application_document(application), today=TODAY) == application


def test_the_canonical_document_round_trips(document: dict[str, Any]) -> None:
    application = parse_application(document, today=TODAY)
    again = parse_application(application_document(application), today=TODAY)
    assert again == application and again.data_sources == application.data_sources


def test_data_sources_are_kept_as_submitted_and_not_shared(document: dict[str, Any]) -> None:
    mine = copy.deepcopy(document)
    application: Application = parse_application(mine, today=TODAY)
    assert application.data_sources == document["data_sources"]
    mine["data_sources"]["pos"]["monthly_revenue_minor"][0] = 1
    assert application.data_sources == document["data_sources"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = doc
        for part in parents:
            target = target[part]
        del target[leaf]

    return mutate


def _at(path: str, value: Any) -> tuple[Callable[[dict[str, Any]], None], str]:
    """Set `path` to `value`; the error must name that same path."""
    return _set(path, value), path


BAD_INPUTS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("missing id", _drop("application_id"), "application_id"),
    ("missing applicant", _drop("applicant"), "applicant"),
    ("missing age", _drop("applicant.age"), "applicant.age"),
    ("age 300", _set("applicant.age", 300), "applicant.age"),
    ("age 17", _set("applicant.age", 17), "applicant.age"),
    ("age as text", _set("applicant.age", "36"), "applicant.age"),
    ("age as bool", _set("applicant.age", True), "applicant.age"),
    ("negative income", *_at("data_sources.bureau.monthly_income_minor", -1)),
    ("negative revenue", *_at("declared.declared_monthly_revenue_minor", -5)),
    ("zero amount", _set("declared.requested_amount_minor", 0), "declared.requested_amount_minor"),
    ("float amount", _set("declared.requested_amount_minor", 1000.5), "declared.requested_amount_minor"),
    ("term 0", _set("declared.requested_term_months", 0), "declared.requested_term_months"),
    ("future date", _set("applied_on", "2026-02-01"), "applied_on"),
    ("bad date", _set("applied_on", "2025-13-01"), "applied_on"),
    ("year 1", _set("applied_on", "0001-01-01"), "applied_on"),
    ("edit in year 1", _set("edits", [{"at": "0001-01-01T00:00:00+00:00", "field": "x"}]), "edits.0.at"),
    ("unknown currency", _set("currency", "XXX"), "currency"),
    ("unknown applicant type", _set("applicant.applicant_type", "trust"), "applicant.applicant_type"),
    ("unknown collateral", _set("declared.collateral", "gold"), "declared.collateral"),
    ("extra top-level key", _set("is_packaged", True), "is_packaged"),
    ("extra applicant key", _set("applicant.ring_id", "R1"), "applicant.ring_id"),
    ("unknown source", _set("data_sources.horoscope", {}), "data_sources.horoscope"),
    ("unknown source field", _set("data_sources.bureau.credit_score", 700), "data_sources.bureau.credit_score"),
    ("share above 1", _set("data_sources.device.night_edits_share", 1.5), "data_sources.device.night_edits_share"),
    # float-or-int fields: pydantic's union branch ("….float") is not part of the field's name
    ("ratio as text", *_at("data_sources.bureau.debt_to_income", "0.4")),
    ("ratio infinite", *_at("data_sources.bureau.debt_to_income", float("inf"))),
    ("share as text", *_at("data_sources.device.night_edits_share", "half")),
    ("too many POS months", *_at("data_sources.pos.monthly_revenue_minor", [1] * 13)),
    ("negative POS month", _set("data_sources.pos.monthly_revenue_minor", [-1] * 12), POS_MONTHS_PATH + ".0"),
    ("empty phone", _set("applicant.identifiers.phone_hash", ""), "applicant.identifiers.phone_hash"),
    ("path in id", _set("application_id", "../etc/passwd"), "application_id"),
    ("naive edit time", _set("edits", [{"at": "2025-06-01T03:00:00", "field": "x"}]), "edits.0.at"),
    ("future edit", _set("edits", [{"at": "2026-03-01T03:00:00+08:00", "field": "x"}]), "edits.0.at"),
    ("latitude 91", _set("applicant.address_lat", 91.0), "applicant.address_lat"),
    ("lat without lon", _set("applicant.address_lat", 30.0), "applicant.address_lat"),
    ("unknown language", _set("applicant.language", "fr"), "applicant.language"),
    ("language in lower case", _set("applicant.language", "zh-cn"), "applicant.language"),
    ("empty language", _set("applicant.language", ""), "applicant.language"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "field"), [(m, f) for _, m, f in BAD_INPUTS], ids=[n for n, _, _ in BAD_INPUTS])
def test_bad_input_names_its_field(
    document: dict[str, Any], mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    bad = copy.deepcopy(document)
    mutate(bad)
    with pytest.raises(ApplicationError) as raised:
        parse_application(bad, today=TODAY)
    assert raised.value.field == field
    assert raised.value.message and field in str(raised.value)


def test_a_non_object_document_is_refused() -> None:
    with pytest.raises(ApplicationError, match="document"):
        parse_application([1, 2], today=TODAY)  # type: ignore[arg-type]


def test_today_defaults_to_the_real_date(document: dict[str, Any]) -> None:
    future = copy.deepcopy(document) | {"applied_on": "2999-01-01"}
    with pytest.raises(ApplicationError) as raised:
        parse_application(future)
    assert raised.value.field == "applied_on"


def test_the_published_text_pattern_is_the_text_rule() -> None:
    """The contract's pattern for free text (OpenAPI) refuses exactly the characters lendstack.text refuses."""
    import re

    from lendstack import text
    from lendstack.origination.parsing import CLEAN_TEXT_PATTERN

    pattern = re.compile(CLEAN_TEXT_PATTERN)
    for code in [*range(0x0000, 0x3100), 0xFEFF, 0xFFFD, 0x1F600]:
        char = chr(code)
        assert (pattern.fullmatch(char) is not None) == (text.forbidden_character(char) is None), hex(code)


def test_the_published_document_schema_bounds_every_number() -> None:
    from lendstack.origination.parsing import SCHEMA_NAME, document_json_schemas

    schemas = document_json_schemas()
    bureau = schemas[SCHEMA_NAME + "_Bureau"]["properties"]["debt_to_income"]["anyOf"][0]["anyOf"]
    assert all(branch["minimum"] == 0 and branch["maximum"] == 1000.0 for branch in bureau)
    assert "'ge':" not in str(schemas) and "'le':" not in str(schemas)  # JSON Schema's own words only
    assert schemas[SCHEMA_NAME + "_Applicant"]["properties"]["segment"]["enum"]
