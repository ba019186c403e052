"""`features_row`: one application + its data as the flat feature row a model trained on simulator frames reads.

The keys are the application schema's `feature` fields (`lendstack.origination.schema.FIELDS`), in
schema order — which is the simulator's column order — with None where a source gave no data, so a
live application scores like a training row. Gender is a protected attribute (role "protected"):
audits read it from the application, models and policies never see it.
"""

from __future__ import annotations

from typing import Any

from lendstack.invariants import check
from lendstack.origination.application import Application
from lendstack.origination.schema import FIELDS, POS_MONTHS, SOURCES, FieldSpec, in_section, list_columns
from lendstack.origination.snapshots import DataBundle


def feature_columns(fields: tuple[FieldSpec, ...]) -> tuple[str, ...]:
    """The feature row's columns: the schema's feature fields, in schema order."""
    return tuple(spec.name for spec in fields if spec.role == "feature")


def source_columns(fields: tuple[FieldSpec, ...]) -> dict[str, tuple[str, ...]]:
    """Each data source's feature columns (a list's columns spread out), in schema order."""
    features = set(feature_columns(fields))
    return {source: tuple(spec.name for spec in in_section(fields, source) if spec.name in features)
            for source in SOURCES}


FEATURE_COLUMNS: tuple[str, ...] = feature_columns(FIELDS)
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = source_columns(FIELDS)
REVENUE_COLUMNS = tuple(spec.name for spec in list_columns(FIELDS, "monthly_revenue_minor"))  # m12 is the latest
check(len(REVENUE_COLUMNS) == POS_MONTHS, "twelve POS months")
_SOURCE_FIELDS = {source: tuple(spec for spec in in_section(FIELDS, source) if spec.role == "feature")
                  for source in SOURCES}
# Fields read from the Application value rather than a source's payload, by the part that holds them.
_HELD = {section: tuple(spec.name for spec in in_section(FIELDS, section) if spec.role == "feature")
         for section in ("application", "applicant", "identifiers", "declared")}


def _list_values(payload: dict[str, Any], key: str, columns: tuple[str, ...]) -> dict[str, Any]:
    # A shorter history is the latest months: pad the oldest end with None.
    values = list(payload.get(key) or [])[-len(columns):]
    padded = [None] * (len(columns) - len(values)) + values
    return dict(zip(columns, padded, strict=True))


def _source_values(source: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    fields = _SOURCE_FIELDS[source]
    if payload is None:
        return dict.fromkeys(SOURCE_COLUMNS[source])
    values: dict[str, Any] = {}
    for spec in fields:
        if spec.list_of:
            if spec.name not in values:
                columns = tuple(column.name for column in list_columns(fields, spec.list_of))
                values |= _list_values(payload, spec.list_of, columns)
        else:
            values[spec.name] = payload.get(spec.name)
    return values


def features_row(application: Application, bundle: DataBundle) -> dict[str, Any]:
    """The flat feature dict (keys = FEATURE_COLUMNS); sources that are missing or failed give None values."""
    holders: dict[str, Any] = {"application": application, "applicant": application.applicant,
                               "identifiers": application.applicant.identifiers, "declared": application.declared}
    row: dict[str, Any] = {}
    for section, names in _HELD.items():
        row |= {name: getattr(holders[section], name) for name in names}
    for source in SOURCES:
        row |= _source_values(source, bundle.payload(source))
    ordered = {column: row[column] for column in FEATURE_COLUMNS}
    check(len(ordered) == len(row), "features_row produced a column outside FEATURE_COLUMNS")
    return ordered
