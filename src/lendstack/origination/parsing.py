"""`parse_application`: the canonical application JSON → `Application`, or an `ApplicationError` naming the field.

The canonical document is what `lendstack.sim.to_application_json(row)` produces, plus the optional
`product_id`, `partner_id`, `edits`, `applicant.applicant_id` and `applicant.address_lat/lon`.
Unknown keys are refused everywhere (a misspelt field must not be silently ignored).

The document's pydantic model is built from the application schema (`lendstack.origination.schema`,
`document_model`): each field's type, bounds, length and closed list come from its `FieldSpec`; only
the envelope (currency, edits, partner and product, the applicant's own id, address and language) is
declared here. A data source's fields are all optional: a source may be partial.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from lendstack.money.currency import CURRENCIES
from lendstack.origination.application import Applicant, Application, Declared, EditEvent, Identifiers
from lendstack.origination.errors import ApplicationError
from lendstack.origination.schema import (
    FIELDS,
    ID_CHARS_MAX,
    ID_PATTERN,
    SOURCES,
    TEXT_CHARS_MAX,
    FieldSpec,
    document_keys,
    in_section,
    list_columns,
)
from lendstack.origination.schema import REGIONS as REGIONS  # re-exported: the API's tests read the lists here
from lendstack.origination.schema import SEGMENTS as SEGMENTS
from lendstack.text import CleanText

APPLIED_ON_MIN = date(1990, 1, 1)  # the earliest plausible application (and book) date

Text = Annotated[CleanText, Field(min_length=1, max_length=TEXT_CHARS_MAX)]  # NFC; no control, zero-width or bidi
Id = Annotated[StrictStr, Field(min_length=1, max_length=ID_CHARS_MAX, pattern=ID_PATTERN)]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _finite(value: float) -> float:
    # A bound alone would refuse Infinity with a misleading message ("less than or equal to ...").
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or Infinity)")
    return value


def _written(value: object) -> object:
    # pydantic's lax mode reads a number as a Unix timestamp (0 is 1970-01-01): dates and times are text.
    if isinstance(value, date | str):
        return value
    raise ValueError("must be written as text: YYYY-MM-DD, or an ISO 8601 time with its offset")


def iso_date_text(value: object) -> object:
    """A pydantic before-validator: a date, or text exactly YYYY-MM-DD (lax mode would read an integer
    as a Unix timestamp, and a datetime with a zero time as a date). Also the API's (api.common.IsoDate)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


Number = Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]
Lat = Annotated[Number, Field(ge=-90, le=90)]
Lon = Annotated[Number, Field(ge=-180, le=180)]
IsoDate = Annotated[date, BeforeValidator(iso_date_text)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_written)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------- the document model, from the schema


def _value_type(spec: FieldSpec) -> Any:
    """The pydantic type of one field's value, from its kind and validation."""
    if spec.kind in ("str", "enum"):
        if spec.pattern:  # an id: exact text, not a cleaned name
            return Annotated[StrictStr, Field(min_length=1, max_length=spec.length_max, pattern=spec.pattern)]
        # A closed list is checked after the schema (_check_choices), with a message that lists it.
        return Annotated[CleanText, Field(min_length=1, max_length=spec.length_max)]
    if spec.kind == "date":
        return IsoDate
    if spec.kind == "bool":
        return StrictBool
    base: Any = StrictInt if spec.kind == "int" else Number
    if spec.low_exclusive:
        return Annotated[base, Field(gt=spec.low, le=spec.high)]
    return Annotated[base, Field(ge=spec.low, le=spec.high)]


def _field(spec: FieldSpec) -> tuple[Any, Any]:
    value = _value_type(spec)
    return (value | None, None) if spec.optional else (value, ...)


def _section_fields(fields: tuple[FieldSpec, ...]) -> dict[str, tuple[Any, Any]]:
    """One section's pydantic fields in document order; a list's columns are one list field."""
    out: dict[str, tuple[Any, Any]] = {}
    for key in document_keys(fields):
        columns = list_columns(fields, key)
        if columns:
            item = _value_type(columns[0])
            out[key] = (Annotated[list[item | None], Field(max_length=len(columns))], [])  # type: ignore[valid-type]
        else:
            out[key] = _field(next(spec for spec in fields if spec.name == key))
    return out


def _model(name: str, fields: dict[str, tuple[Any, Any]]) -> type[_Model]:
    model: type[_Model] = create_model(name, __base__=_Model, **fields)  # type: ignore[call-overload]
    return model


def document_model(fields: tuple[FieldSpec, ...] = FIELDS) -> type[_Model]:
    """The application document's pydantic model: the schema's fields in their sections, plus the
    envelope only the document has (currency, edits, partner, product, the applicant's optional id,
    geocoded address and language). Unknown keys are refused everywhere."""
    identifiers = _model("_Identifiers", _section_fields(in_section(fields, "identifiers")))
    applicant = _model("_Applicant", {
        "applicant_id": (Id | None, None),
        **_section_fields(in_section(fields, "applicant")),
        "identifiers": (identifiers, ...),
        "address_lat": (Lat | None, None),
        "address_lon": (Lon | None, None),
        # For messages to the borrower; the lender's default if absent.
        "language": (Literal["en", "zh-CN"] | None, None),
    })
    declared = _model("_Declared", _section_fields(in_section(fields, "declared")))
    sources = {source: _model("_" + _camel(source), _section_fields(in_section(fields, source))) for source in SOURCES}
    data_sources = _model("_DataSources", {source: (model | None, None) for source, model in sources.items()})
    edit = _model("_Edit", {"at": (Timestamp, ...), "field": (Text, ...), "gps_lat": (Lat | None, None),
                            "gps_lon": (Lon | None, None)})
    return _model("_Document", {
        **_section_fields(in_section(fields, "application")),
        "currency": (Annotated[StrictStr, Field(min_length=3, max_length=3)], ...),
        "applicant": (applicant, ...),
        "declared": (declared, ...),
        "data_sources": (data_sources, data_sources()),
        "edits": (list[edit], []),  # type: ignore[valid-type]
        "partner_id": (Annotated[CleanText, Field(max_length=64)], ""),
        "product_id": (Annotated[CleanText, Field(max_length=64)], ""),
    })


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_Document = document_model()
# The validated document. Its model is built from the schema at import, so the checker cannot see its
# attributes: the code below reads what document_model declares (Any, not a guess at a static type).
Document = Any
_CHOICES = tuple(spec for spec in FIELDS if spec.choices)
_APPLICANT_FIELDS = in_section(FIELDS, "applicant")
_DECLARED_FIELDS = in_section(FIELDS, "declared")
# The JSON Schema part (SCHEMA_NAME + suffix) that holds a section's properties.
_PART_OF_SECTION = {"application": "", "applicant": "_Applicant", "identifiers": "_Identifiers",
                    "declared": "_Declared", **{source: "_" + _camel(source) for source in SOURCES}}


# pydantic names the branch of a union it tried in the error location ("debt_to_income.float",
# "x.function-after[...]"): those are not fields, and the field named to the caller must be one.
_UNION_BRANCHES = frozenset({"float", "int", "str", "bool", "none", "nullable"})


def _dotted(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location
             if not (isinstance(part, str) and (part in _UNION_BRANCHES or "[" in part))]
    return ".".join(parts) or "document"


def _validated(document: Any) -> Document:
    if not isinstance(document, dict):
        raise ApplicationError("document", f"must be a JSON object, got {type(document).__name__}")
    try:
        return _Document.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApplicationError(_dotted(tuple(first["loc"])), first["msg"]) from None


def _check_semantics(doc: Document, today: date) -> None:
    """Rules the schema cannot say: known codes and no dates in the future."""
    if doc.currency not in CURRENCIES:
        raise ApplicationError("currency", f"unknown currency {doc.currency!r}; known: {', '.join(sorted(CURRENCIES))}")
    if doc.applied_on > today:
        raise ApplicationError("applied_on", f"{doc.applied_on.isoformat()} is in the future (today is {today})")
    if doc.applied_on < APPLIED_ON_MIN:
        # Windows reach back from it (fraud velocity: 90 days): year 1 would overflow the date type.
        raise ApplicationError("applied_on", f"{doc.applied_on.isoformat()} is before {APPLIED_ON_MIN.isoformat()}")
    _check_choices(doc, _CHOICES)
    if (doc.applicant.address_lat is None) != (doc.applicant.address_lon is None):
        raise ApplicationError("applicant.address_lat", "address_lat and address_lon come together")
    for i, edit in enumerate(doc.edits):
        if edit.at.date() > today:
            raise ApplicationError(f"edits.{i}.at", f"{edit.at.isoformat()} is in the future")
        if edit.at.date() < APPLIED_ON_MIN:
            raise ApplicationError(f"edits.{i}.at", f"{edit.at.isoformat()} is before {APPLIED_ON_MIN.isoformat()}")


def _check_choices(doc: Document, fields: tuple[FieldSpec, ...]) -> None:
    """Each closed-list field holds one of its choices (in schema order: the first bad one is named)."""
    for spec in fields:
        node = doc
        for part in spec.path.split(".")[:-1]:
            node = getattr(node, part, None)
        value = getattr(node, spec.name, None)
        if value is not None and value not in spec.choices:
            raise ApplicationError(spec.path, f"must be one of {', '.join(spec.choices)}")


def _raw_sources(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # Kept as submitted (already validated), copied so later changes to the caller's dict cannot leak in.
    sources = document.get("data_sources") or {}
    return {
        name: {key: list(value) if isinstance(value, list) else value for key, value in payload.items()}
        for name, payload in sources.items()
        if payload is not None
    }


def _applicant(doc: Document) -> Applicant:
    a = doc.applicant
    return Applicant(
        applicant_id=a.applicant_id or doc.application_id,
        **{spec.name: getattr(a, spec.name) for spec in _APPLICANT_FIELDS},
        identifiers=Identifiers(**a.identifiers.model_dump()),
        address_lat=None if a.address_lat is None else float(a.address_lat),
        address_lon=None if a.address_lon is None else float(a.address_lon),
        language=a.language or "",
    )


def _edit(edit: Any) -> EditEvent:
    lat = None if edit.gps_lat is None else float(edit.gps_lat)
    lon = None if edit.gps_lon is None else float(edit.gps_lon)
    return EditEvent(at=edit.at, field=edit.field, gps_lat=lat, gps_lon=lon)


# pydantic writes the bounds of a constrained union (Ratio, Share, Lat, ...) as `ge`/`le` beside its
# `anyOf`, which JSON Schema does not know: the published contract says minimum/maximum.
_BOUND_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
SCHEMA_NAME = "ApplicationDocument"


def _standard(node: Any) -> Any:
    if isinstance(node, list):
        return [_standard(value) for value in node]
    if not isinstance(node, dict):
        return node
    out = {_BOUND_KEYWORDS.get(key, key): _standard(value) for key, value in node.items()}
    bounds = {key: out.pop(key) for key in _BOUND_KEYWORDS.values() if key in out and "anyOf" in out}
    if bounds:  # onto each numeric branch, where every reader (and schemathesis) looks for them
        out["anyOf"] = [{**branch, **bounds} if branch.get("type") in ("number", "integer") else branch
                        for branch in out["anyOf"]]
    return out


# lendstack.text's rule as a JSON Schema pattern (no control, zero-width, bidi or separator characters).
CLEAN_TEXT_PATTERN = ("^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e"
                      "\\u2060\\u2066-\\u2069\\ufeff]*$")


def _clean_text_pattern(node: Any) -> None:
    """Every free text of the document (a string without its own pattern, list or format) gets the rule."""
    if isinstance(node, list):
        for value in node:
            _clean_text_pattern(value)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
        node["pattern"] = CLEAN_TEXT_PATTERN
    for value in node.values():
        _clean_text_pattern(value)


def document_json_schemas() -> dict[str, dict[str, Any]]:
    """The application document as JSON Schemas for the OpenAPI contract: {name: schema}, the
    document itself under SCHEMA_NAME and its parts under SCHEMA_NAME + part, referring to each other
    as #/components/schemas/<name>. Rules the schema cannot say (known product, dates not in the
    future, latitude with longitude) are still checked by parse_application and answered 422."""
    schema = _Document.model_json_schema(ref_template="#/components/schemas/" + SCHEMA_NAME + "{model}")
    parts = schema.pop("$defs", {})
    schemas = {SCHEMA_NAME + name: _standard(part) for name, part in parts.items()}
    schemas[SCHEMA_NAME] = _standard(schema)
    for part in schemas.values():
        _clean_text_pattern(part)
    # The categories are closed lists: say so, so clients (and schemathesis) send values we take.
    for spec in _CHOICES:
        properties = schemas[SCHEMA_NAME + _PART_OF_SECTION[spec.section]]["properties"]
        properties[spec.name] = {**properties[spec.name], "enum": list(spec.choices)}
    document = schemas[SCHEMA_NAME]["properties"]
    document["currency"] = {**document["currency"], "enum": sorted(CURRENCIES)}
    return schemas


def parse_application(document: dict[str, Any], *, today: date | None = None) -> Application:
    """Validate and convert one application document; raise `ApplicationError` naming the first bad field."""
    doc = _validated(document)
    _check_semantics(doc, today or date.today())
    return Application(
        application_id=doc.application_id,
        applied_on=doc.applied_on,
        currency=doc.currency,
        applicant=_applicant(doc),
        declared=Declared(**doc.declared.model_dump()),
        data_sources=_raw_sources(document),
        edits=tuple(sorted((_edit(e) for e in doc.edits), key=lambda e: e.at)),
        partner_id=doc.partner_id,
        product_id=doc.product_id,
    )


def application_document(application: Application) -> dict[str, Any]:
    """The canonical JSON document of an application (inverse of `parse_application`)."""
    a = application.applicant
    applicant: dict[str, Any] = {
        "applicant_id": a.applicant_id,
        **{spec.name: getattr(a, spec.name) for spec in _APPLICANT_FIELDS},
        "identifiers": a.identifiers.as_dict(),
    }
    if a.address_lat is not None:
        applicant |= {"address_lat": a.address_lat, "address_lon": a.address_lon}
    if a.language:
        applicant["language"] = a.language
    d = application.declared
    document: dict[str, Any] = {
        "application_id": application.application_id,
        "applied_on": application.applied_on.isoformat(),
        "currency": application.currency,
        "applicant": applicant,
        "declared": {spec.name: getattr(d, spec.name) for spec in _DECLARED_FIELDS},
        "data_sources": application.data_sources,
    }
    if application.edits:
        document["edits"] = [_edit_document(e) for e in application.edits]
    return document | {"partner_id": application.partner_id, "product_id": application.product_id}


def _edit_document(edit: EditEvent) -> dict[str, Any]:
    return {"at": edit.at.isoformat(), "field": edit.field, "gps_lat": edit.gps_lat, "gps_lon": edit.gps_lon}
