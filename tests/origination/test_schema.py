"""The application schema is declared once and every consumer is derived from it: a field added to the
schema shows up in the simulator's dictionary and documents, the parser, the feature row, the policy
language's names and the reason codes' dictionary — with no other edit."""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from lendstack.decisioning.names import FEATURES, NAME_TYPES, feature_types
from lendstack.invariants import InvariantError
from lendstack.origination import features, parsing
from lendstack.origination.application import Applicant, Declared, Identifiers
from lendstack.origination.schema import (
    COUNT_MAX,
    FIELDS,
    SOURCES,
    FieldSpec,
    by_name,
    check_fields,
    document_keys,
    in_section,
)
from lendstack.scoring.dictionary import sim_dictionary
from lendstack.sim import FIELDS as SIM_FIELDS
from lendstack.sim import generate_applications, to_application_json
from lendstack.sim.documents import LAYOUT, document_layout
from lendstack.sim.fields import field_docs

ARREARS = FieldSpec("utility_arrears_12m", "int", "count", "feature", "bureau", "utility bills in arrears in 12 months",
                    "近12个月公用事业欠费次数", nullable=True, low=0, high=COUNT_MAX)
CHANNEL = FieldSpec("channel", "enum", "label", "feature", "declared", "where the application came from", "申请渠道",
                    choices=("app", "branch"), length_max=20)
RELIGION = FieldSpec("religion", "str", "label", "protected", "applicant", "religion; for fairness analysis only",
                     "宗教（仅用于公平性分析）", nullable=True, length_max=50)
EXTENDED = (*FIELDS, ARREARS, CHANNEL, RELIGION)


def _document() -> dict[str, Any]:
    row = generate_applications(50, 3).filter(applicant_type="small_business").row(0, named=True)
    return to_application_json(row)


# ---------------------------------------------------------------- the schema itself


def test_the_schema_is_checked_on_construction() -> None:
    with pytest.raises(InvariantError, match="numbers have bounds"):
        FieldSpec("x", "int", "count", "feature", "bureau", "x", "x")
    with pytest.raises(InvariantError, match="has choices"):
        FieldSpec("x", "enum", "label", "feature", "declared", "x", "x", length_max=5)
    with pytest.raises(InvariantError, match="unknown section"):
        FieldSpec("x", "str", "label", "feature", "nowhere", "x", "x", length_max=5)
    with pytest.raises(InvariantError, match="meaning in English and Chinese"):
        FieldSpec("x", "str", "label", "feature", "declared", "x", "", length_max=5)
    with pytest.raises(InvariantError, match="declared twice"):
        check_fields((*FIELDS, FIELDS[0]))


def test_every_source_has_fields_and_the_paths_are_what_errors_name() -> None:
    assert [section for section in SOURCES if in_section(FIELDS, section)] == list(SOURCES)
    fields = by_name()
    assert fields["segment"].path == "applicant.segment"
    assert fields["phone_hash"].path == "applicant.identifiers.phone_hash"
    assert fields["bureau_score"].path == "data_sources.bureau.bureau_score"
    assert fields["applied_on"].path == "applied_on"
    assert document_keys(in_section(FIELDS, "pos"))[0] == "monthly_revenue_minor"


def test_the_application_values_hold_every_field_of_their_section() -> None:
    # The frozen dataclasses are typed Python and declared by hand; the schema is what they must hold.
    def names(cls: Any) -> set[str]:
        return {field.name for field in dataclasses.fields(cls)}

    assert {spec.name for spec in in_section(FIELDS, "applicant")} <= names(Applicant)
    assert {spec.name for spec in in_section(FIELDS, "identifiers")} == names(Identifiers)
    assert {spec.name for spec in in_section(FIELDS, "declared")} == names(Declared)


# ---------------------------------------------------------------- today's consumers are the schema


def test_the_consumers_are_the_schema() -> None:
    application = [name for name, doc in SIM_FIELDS.items() if doc.role in ("key", "feature", "protected")]
    assert application == [spec.name for spec in FIELDS]
    assert features.FEATURE_COLUMNS == FEATURES == tuple(spec.name for spec in FIELDS if spec.role == "feature")
    assert {name: NAME_TYPES[name] for name in FEATURES} == feature_types(FIELDS)
    assert document_layout(FIELDS) == LAYOUT
    assert by_name()["segment"].choices == parsing.SEGMENTS


# ---------------------------------------------------------------- a new field shows up everywhere


def test_a_new_field_is_in_the_simulators_dictionary() -> None:
    docs = field_docs(EXTENDED)
    assert docs["utility_arrears_12m"].dtype == pl.Int64() and docs["utility_arrears_12m"].source == "bureau"
    assert docs["channel"].dtype == pl.String() and docs["channel"].role == "feature"
    assert docs["religion"].role == "protected" and docs["religion"].source == "application"


def test_a_new_field_is_in_the_simulators_document() -> None:
    layout = document_layout(EXTENDED)
    assert layout.sources["bureau"]["utility_arrears_12m"] == ("utility_arrears_12m",)
    assert layout.declared[-1] == "channel" and layout.applicant[-1] == "religion"
    assert {"utility_arrears_12m", "channel", "religion"} <= set(layout.columns)


def test_a_new_field_is_parsed_and_validated() -> None:
    model = parsing.document_model(EXTENDED)
    document = _document()
    document["declared"]["channel"] = "app"
    document["data_sources"]["bureau"] = {**document["data_sources"].get("bureau", {}), "utility_arrears_12m": 2}
    parsed: Any = model.model_validate(document)
    assert parsed.data_sources.bureau.utility_arrears_12m == 2 and parsed.applicant.religion is None
    document["data_sources"]["bureau"]["utility_arrears_12m"] = COUNT_MAX + 1
    with pytest.raises(ValidationError, match="less than or equal to 1000000"):
        model.model_validate(document)
    del document["declared"]["channel"]
    document["data_sources"]["bureau"]["utility_arrears_12m"] = 0
    with pytest.raises(ValidationError, match="channel"):  # required: not nullable and not in a source
        model.model_validate(document)
    # Today's model refuses the new key: unknown keys are refused everywhere.
    with pytest.raises(ValidationError, match="utility_arrears_12m"):
        parsing.document_model(FIELDS).model_validate({**_document(), "data_sources": {
            "bureau": {"utility_arrears_12m": 1}}})


def test_a_new_field_is_in_the_feature_row_and_the_policy_names() -> None:
    columns = features.feature_columns(EXTENDED)
    assert "utility_arrears_12m" in columns and "channel" in columns and "religion" not in columns
    assert features.source_columns(EXTENDED)["bureau"][-1] == "utility_arrears_12m"
    types = feature_types(EXTENDED)
    arrears = types["utility_arrears_12m"]
    assert (arrears.kind, arrears.low, arrears.high, arrears.integral, arrears.nullable) == (
        "number", 0.0, COUNT_MAX, True, True)
    assert types["channel"].levels == ("app", "branch") and not types["channel"].nullable
    assert "religion" not in types  # protected: never a policy term


def test_a_new_field_is_in_the_reason_codes_dictionary() -> None:
    words = sim_dictionary(field_docs(EXTENDED))
    entry = words.get("utility_arrears_12m")
    assert entry is not None and entry.meaning_en == "utility bills in arrears in 12 months"
    assert entry.meaning_zh == "近12个月公用事业欠费次数" and entry.unit == "count"


def test_short_names_come_from_the_schema() -> None:
    words = sim_dictionary(SIM_FIELDS)
    assert words.get("debt_to_income").meaning_en == "debt-to-income ratio"  # type: ignore[union-attr]
    assert words.get("revenue_m12_minor").meaning_en == (  # type: ignore[union-attr]
        "POS revenue 1 month before the application")
    assert words.get("revenue_m01_minor").meaning_en == (  # type: ignore[union-attr]
        "POS revenue 12 months before the application")
    assert words.get("monthly_income_minor").meaning_en == "monthly personal income"  # type: ignore[union-attr]
