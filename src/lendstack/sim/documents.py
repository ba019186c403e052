"""`to_application_json`: one frame row as the nested application document the decision API takes.

Only what a lender would receive is included: the applicant, what they declared, and the data
sources keyed by source name. Hidden truth and outcomes stay out. A source with no data for this
applicant (no bureau file, no tax record, no vehicle) is left out rather than sent as empty. Where
each column goes is the application schema's (`lendstack.origination.schema`): `document_layout`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from lendstack.origination.schema import FIELDS as APPLICATION_FIELDS
from lendstack.origination.schema import SOURCES, FieldSpec, document_keys, in_section, list_columns
from lendstack.sim.errors import SimArgumentError

CURRENCY = "CNY"


@dataclass(frozen=True, slots=True)
class DocumentLayout:
    """Which columns go where in the document. A part maps each document key to its columns: one
    column for a field, several (oldest first) for a list."""

    top: tuple[str, ...]
    applicant: tuple[str, ...]
    identifiers: tuple[str, ...]
    declared: tuple[str, ...]
    sources: dict[str, dict[str, tuple[str, ...]]]
    columns: tuple[str, ...]  # every column the document reads


def _keys(fields: tuple[FieldSpec, ...]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(spec.name for spec in list_columns(fields, key)) or (key,) for key in document_keys(fields)}


def document_layout(fields: tuple[FieldSpec, ...]) -> DocumentLayout:
    def names(section: str) -> tuple[str, ...]:
        return tuple(spec.name for spec in in_section(fields, section))

    return DocumentLayout(
        top=names("application"), applicant=names("applicant"), identifiers=names("identifiers"),
        declared=names("declared"), sources={source: _keys(in_section(fields, source)) for source in SOURCES},
        columns=tuple(spec.name for spec in fields),
    )


LAYOUT = document_layout(APPLICATION_FIELDS)
_DATES = frozenset(spec.name for spec in APPLICATION_FIELDS if spec.kind == "date")


def to_application_json(row: Mapping[str, Any] | pl.DataFrame) -> dict[str, Any]:
    """A JSON-serialisable dict (amounts as int minor units, dates as ISO strings), deterministic in key order.

    `row` is `frame.row(i, named=True)` or a one-row frame.
    """
    values = _as_mapping(row)
    sources = {name: _payload(values, keys) for name, keys in LAYOUT.sources.items()}
    present = {name: fields for name, fields in sources.items() if _has_data(fields)}
    return {
        **_pick(values, LAYOUT.top),
        "currency": CURRENCY,
        "applicant": {**_pick(values, LAYOUT.applicant), "identifiers": _pick(values, LAYOUT.identifiers)},
        "declared": _pick(values, LAYOUT.declared),
        "data_sources": present,
    }


def _as_mapping(row: Mapping[str, Any] | pl.DataFrame) -> Mapping[str, Any]:
    if isinstance(row, pl.DataFrame):
        if row.height != 1:
            raise SimArgumentError("row", f"must be one row, got a frame of {row.height} rows")
        row = row.row(0, named=True)
    missing = [name for name in LAYOUT.columns if name not in row]
    if missing:
        raise SimArgumentError("row", f"missing columns {missing[:5]}; pass a row of generate_applications")
    return row


def _pick(values: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: _json(name, values[name]) for name in columns}


def _json(name: str, value: Any) -> Any:
    return value.isoformat() if name in _DATES and isinstance(value, date) else value


def _payload(values: Mapping[str, Any], keys: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A source's payload: a field's value, or a list's values (oldest first)."""
    return {key: values[key] if columns == (key,) else [values[name] for name in columns]
            for key, columns in keys.items()}


def _has_data(fields: dict[str, Any]) -> bool:
    # A list of nulls (no POS history) is no data, like a null.
    return any(value is not None and not (isinstance(value, list) and all(item is None for item in value))
               for value in fields.values())
